"""Annotation wire formats: a fast hand parser for bulk requests, and serializers that document the shapes."""

from __future__ import annotations

import math
import uuid

from rest_framework import serializers

from annotation.errors import InvalidInput, PayloadTooLarge
from annotation.services.annotations import MAX_BULK_ITEMS, OPS, BulkItem

_OPTIONAL = ("pair", "task", "label_class", "geometry", "properties", "source", "confidence")


def _int_or_none(value: object, name: str, index: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"items[{index}].{name} must be an integer or null.")
    return value


def _uuid(value: object, index: int) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"items[{index}].id must be a UUID (the client generates it).") from exc


def parse_bulk_item(raw: object, index: int) -> BulkItem:
    """Turn one JSON item into a BulkItem; only the keys present are changed on an update."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"items[{index}] must be an object.")
    op = raw.get("op", "upsert")
    if op not in OPS:
        raise InvalidInput(f"items[{index}].op must be one of {', '.join(OPS)}.")
    version = raw.get("version", 0) or 0
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise InvalidInput(f"items[{index}].version must be a non-negative integer.")
    confidence = raw.get("confidence")
    if confidence is not None and (not isinstance(confidence, int | float) or not math.isfinite(confidence)):
        raise InvalidInput(f"items[{index}].confidence must be a number.")
    properties = raw.get("properties")
    if properties is not None and not isinstance(properties, dict):
        raise InvalidInput(f"items[{index}].properties must be an object.")
    fields = frozenset(k for k in _OPTIONAL if k in raw)
    return BulkItem(
        op=op,
        id=_uuid(raw.get("id"), index),
        version=version,
        pair_id=_int_or_none(raw.get("pair"), "pair", index),
        task_id=_int_or_none(raw.get("task"), "task", index),
        label_class_id=_int_or_none(raw.get("label_class"), "label_class", index),
        geometry=raw.get("geometry"),
        properties=properties,
        source=raw.get("source"),
        confidence=confidence,
        to_version=_int_or_none(raw.get("to_version"), "to_version", index),
        fields=fields,
    )


def parse_bulk_request(data: object) -> tuple[list[BulkItem], uuid.UUID | None]:
    """`{"request_id": uuid?, "items": [...]}` -> items and the idempotency key."""
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise InvalidInput('The body is {"request_id": "<uuid>", "items": [...]}.')
    key = data.get("request_id")
    request_key = None
    if key is not None:
        try:
            request_key = uuid.UUID(str(key))
        except ValueError as exc:
            raise InvalidInput("request_id must be a UUID.") from exc
    if len(data["items"]) > MAX_BULK_ITEMS:
        raise PayloadTooLarge(f"At most {MAX_BULK_ITEMS} items per bulk request.")
    return [parse_bulk_item(raw, i) for i, raw in enumerate(data["items"])], request_key


class AnnotationSerializer(serializers.Serializer):
    """The wire shape of one annotation (documentation; rows are serialised by annotation_to_dict)."""

    id = serializers.UUIDField()
    version = serializers.IntegerField()
    pair = serializers.IntegerField()
    task = serializers.IntegerField(allow_null=True)
    label_class = serializers.IntegerField(allow_null=True)
    source = serializers.CharField()
    status = serializers.CharField()
    author = serializers.IntegerField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    geometry = serializers.JSONField()
    properties = serializers.JSONField()
    is_deleted = serializers.BooleanField()


class BulkItemSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=list(OPS), default="upsert")
    id = serializers.UUIDField(help_text="Client-generated UUID")
    version = serializers.IntegerField(default=0, help_text="Version you edited; 0 for a new annotation")
    pair = serializers.IntegerField(required=False)
    task = serializers.IntegerField(required=False, allow_null=True)
    label_class = serializers.IntegerField(required=False, allow_null=True)
    geometry = serializers.JSONField(required=False, help_text="GeoJSON Point or Polygon, H&E level-0 px")
    properties = serializers.JSONField(required=False)
    source = serializers.CharField(required=False)
    confidence = serializers.FloatField(required=False, allow_null=True)
    to_version = serializers.IntegerField(required=False, help_text="restore: bring back this version's content")


class BulkRequestSerializer(serializers.Serializer):
    request_id = serializers.UUIDField(required=False, help_text="Idempotency key: a replay returns the stored answer")
    items = BulkItemSerializer(many=True)


class BulkResultSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    op = serializers.CharField()
    result = serializers.ChoiceField(choices=["created", "updated", "deleted", "accepted", "rejected", "restored", "unchanged"])
    version = serializers.IntegerField(help_text="The version now stored")
    annotation = AnnotationSerializer()


class BulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)
    replayed = serializers.BooleanField()


class ViewportResponseSerializer(serializers.Serializer):
    """mode=features: `features` (id, version, label_class, source, status, task, author, confidence, geometry);
    mode=points: `points` [[id, cx, cy, label_class, source]]; mode=bins: x0, y0, cell_w, cell_h, nx, ny, `cells` [[i, j, n]]."""

    mode = serializers.ChoiceField(choices=["features", "points", "bins"])
    count = serializers.IntegerField()
    features = serializers.ListField(child=serializers.JSONField(), required=False)
    points = serializers.ListField(child=serializers.JSONField(), required=False)
    cells = serializers.ListField(child=serializers.JSONField(), required=False)


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    actor = serializers.IntegerField(source="actor_id", allow_null=True)
    version = serializers.IntegerField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    at = serializers.DateTimeField()


class RestoreSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The version you see now")
    to_version = serializers.IntegerField(required=False, help_text="Bring back the content of this version")


class AcceptInViewSerializer(serializers.Serializer):
    pair = serializers.IntegerField()
    bbox = serializers.CharField(help_text="x0,y0,x1,y1 in H&E level-0 px")
    task = serializers.IntegerField(required=False)
    reject = serializers.BooleanField(default=False)


class AcceptInViewOutSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField())
    count = serializers.IntegerField()
