"""Annotations: viewport read with level of detail, idempotent bulk writes, history, restore, accept-in-view."""

from __future__ import annotations

import uuid

import orjson
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from annotation.api.common import float_param, int_param
from annotation.errors import NotFound, PayloadTooLarge
from annotation.selectors.annotations import (
    DEFAULT_BINS,
    ViewportQuery,
    annotation_get_for_user,
    annotation_history_for_user,
    annotation_viewport,
    pair_access,
    parse_bbox,
)
from annotation.serializers.annotations import (
    AcceptInViewOutSerializer,
    AcceptInViewSerializer,
    AnnotationSerializer,
    BulkRequestSerializer,
    BulkResponseSerializer,
    EventSerializer,
    RestoreSerializer,
    ViewportResponseSerializer,
    parse_bulk_request,
)
from annotation.services.annotations import (
    MAX_BULK_BYTES,
    BulkItem,
    annotation_accept_in_view,
    annotation_bulk_apply,
    annotation_to_dict,
)

P = OpenApiParameter


def _json(body: bytes | dict, status: int = 200) -> HttpResponse:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return HttpResponse(data, status=status, content_type="application/json")


def viewport_query(params) -> ViewportQuery:
    """The viewport query of `?pair=&bbox=&zoom=&task=&label_class=&source=&bins=` (400 `invalid` when malformed).

    Shared with the lean route (`annotation.api.viewport_asgi`), so both read parameters the same way.
    """
    x0, y0, x1, y1 = parse_bbox(params.get("bbox"))
    return ViewportQuery(
        pair_id=int_param(params, "pair", required=True), x0=x0, y0=y0, x1=x1, y1=y1,
        zoom=float_param(params, "zoom", 1.0), task_id=int_param(params, "task"),
        label_class_id=int_param(params, "label_class"), source=params.get("source") or None,
        bins=int_param(params, "bins") or DEFAULT_BINS,
    )


def _uuid(pk) -> uuid.UUID:
    try:
        return uuid.UUID(str(pk))
    except ValueError as exc:
        raise NotFound("Annotation not found.") from exc


class AnnotationViewSet(viewsets.GenericViewSet):
    """Annotations of slide pairs, in H&E level-0 px; what you see follows your role and blind mode."""

    serializer_class = AnnotationSerializer
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"

    @extend_schema(
        parameters=[
            P("pair", int, required=True),
            P("bbox", str, required=True, description="x0,y0,x1,y1 in H&E level-0 px"),
            P("zoom", float, description="level-0 px per screen px (default 1); large values switch to points, then bins"),
            P("task", int, description="only this task's annotations (plus model proposals)"),
            P("label_class", int),
            P("source", str),
            P("bins", int, description=f"bins per side in bins mode (default {DEFAULT_BINS}, max 256)"),
        ],
        responses=ViewportResponseSerializer,
    )
    def list(self, request):
        """What is in a viewport: polygons, or centroids past 3,000 / when zoomed out, or counts per bin."""
        query = viewport_query(request.query_params)
        _, access = pair_access(user=request.user, pair_id=query.pair_id)
        return _json(annotation_viewport(user=request.user, access=access, query=query))

    def retrieve(self, request, pk=None):
        row, _ = annotation_get_for_user(user=request.user, annotation_id=_uuid(pk))
        return _json(annotation_to_dict(row))

    @extend_schema(request=BulkRequestSerializer, responses=BulkResponseSerializer)
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Upsert/delete/accept/reject/restore up to 1,000 annotations all-or-nothing; replays are harmless."""
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BULK_BYTES:
            raise PayloadTooLarge(f"A bulk request body is at most {MAX_BULK_BYTES} bytes.")
        items, key = parse_bulk_request(request.data)
        return _json(annotation_bulk_apply(actor=request.user, items=items, request_key=key))

    @extend_schema(responses=EventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """Every change of an annotation (who, when, before, after, version)."""
        events = annotation_history_for_user(user=request.user, annotation_id=_uuid(pk))
        return Response(EventSerializer(events, many=True).data)

    @extend_schema(request=RestoreSerializer, responses=BulkResponseSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        """Undelete an annotation, or bring back the content of an earlier version."""
        data = RestoreSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row, _ = annotation_get_for_user(user=request.user, annotation_id=_uuid(pk))
        item = BulkItem(op="restore", id=row.id, version=data.validated_data["version"], to_version=data.validated_data.get("to_version"))
        return _json(annotation_bulk_apply(actor=request.user, items=[item]))

    @extend_schema(request=AcceptInViewSerializer, responses=AcceptInViewOutSerializer)
    @action(detail=False, methods=["post"], url_path="accept-in-view")
    def accept_in_view(self, request):
        """Accept (or reject) every open model proposal in a box."""
        data = AcceptInViewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        pair, access = pair_access(user=request.user, pair_id=values["pair"])
        ids = annotation_accept_in_view(
            actor=request.user, pair=pair, access=access, bbox=parse_bbox(values["bbox"]), task_id=values.get("task"), reject=values["reject"]
        )
        return Response({"ids": ids, "count": len(ids)})
