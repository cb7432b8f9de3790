"""Annotation writes: idempotent bulk upsert/delete/accept/reject/restore with optimistic concurrency.

Every change bumps `version`, writes an AnnotationEvent (who, before, after) and, after commit,
broadcasts `annotations.changed` (ids only) to the project group.
"""

from __future__ import annotations

import copy
import logging
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from annotation.errors import (
    InvalidInput,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    VersionConflict,
)
from annotation.events import broadcast, project_group
from annotation.geometry import validate_geometry
from annotation.models import (
    Annotation,
    AnnotationEvent,
    BulkRequest,
    Role,
    SlidePair,
)
from annotation.selectors.annotations import visibility_for
from annotation.selectors.projects import Access
from annotation.services.annotation_rules import BulkContext, authorise, check_in_task
from annotation.services.annotations_copy import (
    NewEvent,
    NewRow,
    NewRowStream,
    insert_annotations,
    locked_rows,
    update_annotations,
)

logger = logging.getLogger(__name__)
MAX_BULK_ITEMS = 1000
MAX_BULK_BYTES = 4 * 1024 * 1024
MAX_ACCEPT_IN_VIEW = 5000
OPS = ("upsert", "delete", "accept", "reject", "restore")
MUTABLE = ("author_id", "label_class_id", "geometry", "geom_type", "min_x", "min_y", "max_x", "max_y", "cx", "cy", "source",
           "status", "properties", "task_id", "confidence", "is_deleted", "version", "updated_at")
Source, Status = Annotation.Source, Annotation.Status
SOURCES = frozenset(Source.values)


@dataclass(frozen=True)
class BulkItem:
    """One operation of a bulk request; `version` is the version the client edited (0 for a new annotation)."""

    op: str
    id: uuid.UUID
    version: int = 0
    pair_id: int | None = None
    task_id: int | None = None
    label_class_id: int | None = None
    geometry: dict | None = None
    properties: dict | None = None
    source: str | None = None
    confidence: float | None = None
    to_version: int | None = None
    fields: frozenset[str] = frozenset()


def annotation_to_dict(row: Annotation) -> dict:
    """The wire and history shape of an annotation."""
    return {
        "id": str(row.id), "version": row.version, "pair": row.pair_id, "task": row.task_id,
        "label_class": row.label_class_id, "source": row.source, "status": row.status, "author": row.author_id,
        "confidence": row.confidence, "geometry": row.geometry, "properties": row.properties, "is_deleted": row.is_deleted,
    }


def _content(row: Annotation) -> dict:
    snap = annotation_to_dict(row)
    snap.pop("version")
    return snap


def _new_source(access: Access, item: BulkItem) -> str:
    if access.role == Role.ANNOTATOR.value:
        return Source.HUMAN
    if access.role == Role.REVIEWER.value:
        return Source.REVIEW
    source = item.source or Source.HUMAN
    if source not in SOURCES:
        raise InvalidInput(f"source must be one of {', '.join(Source.values)}.")
    return source


def _set_geometry(row: Annotation, pair: SlidePair, geometry: dict | None) -> None:
    slide = pair.anatomical
    info = validate_geometry(geometry, width=slide.width or None, height=slide.height or None)
    row.geometry, row.geom_type = info.geometry, info.geom_type
    row.min_x, row.min_y, row.max_x, row.max_y, row.cx, row.cy = info.min_x, info.min_y, info.max_x, info.max_y, info.cx, info.cy


def _adopt(ctx: BulkContext, row: Annotation, pair: SlidePair) -> None:
    """An annotator's decision on an open model proposal makes it their label (blind mode hides it from others)."""
    access = ctx.access.get(pair.project_id)
    if row.source == Source.MODEL and row.author_id is None and access is not None and access.role == Role.ANNOTATOR.value:
        row.author_id = ctx.actor.id


def _mutate(ctx: BulkContext, row: Annotation, item: BulkItem, pair: SlidePair) -> None:
    """Apply the operation's content change to `row` in memory (no state checks, no version bump)."""
    if item.op == "upsert":
        if "geometry" in item.fields:
            _set_geometry(row, pair, item.geometry)
        if "label_class" in item.fields:
            if item.label_class_id is not None and item.label_class_id not in ctx.class_ids(pair.project_id):
                raise InvalidInput("The label class does not belong to this project.")
            row.label_class_id = item.label_class_id
        if "properties" in item.fields:
            row.properties = item.properties or {}
        if "task" in item.fields:
            row.task_id = ctx.task(item.task_id, pair.id).id if item.task_id is not None else None
        if "confidence" in item.fields:
            row.confidence = item.confidence
        if row.source == Source.MODEL and row.status in (Status.PROPOSED, Status.ACCEPTED) and item.fields & {"geometry", "label_class"}:
            row.status = Status.EDITED
            _adopt(ctx, row, pair)
    elif item.op == "delete":
        row.is_deleted = True
    elif item.op in ("accept", "reject"):
        row.status = Status.ACCEPTED if item.op == "accept" else Status.REJECTED
        _adopt(ctx, row, pair)
    elif item.op == "restore":
        if item.to_version is not None:
            event = AnnotationEvent.objects.filter(annotation_id=row.id, version=item.to_version).exclude(after=None).first()
            if event is None:
                raise NotFound(f"Version {item.to_version} is not in the history.")
            _set_geometry(row, pair, event.after["geometry"])
            row.label_class_id, row.status = event.after["label_class"], event.after["status"]
            row.properties = event.after.get("properties") or {}
        row.is_deleted = False


def _check_state(row: Annotation, item: BulkItem) -> None:
    if item.op == "restore":
        if not row.is_deleted and item.to_version is None:
            raise InvalidTransition("The annotation is not deleted.")
    elif row.is_deleted:
        raise InvalidTransition("The annotation is deleted; restore it first.", code="deleted", extra={"id": str(row.id)})


def _is_replay(ctx: BulkContext, row: Annotation, item: BulkItem, pair: SlidePair) -> bool:
    """A request this actor already applied: one version on, last change theirs, applying again changes nothing."""
    if row.version != item.version + 1:
        return False
    last = AnnotationEvent.objects.filter(annotation_id=row.id).order_by("-version", "-id").first()
    if last is None or last.actor_id != ctx.actor.id or last.version != row.version:
        return False
    trial = copy.copy(row)
    try:
        _mutate(ctx, trial, item, pair)
    except (InvalidInput, NotFound):
        return False
    return _content(trial) == _content(row)


def _create(ctx: BulkContext, access: Access, item: BulkItem, pair: SlidePair) -> NewRow:
    if item.op != "upsert":
        raise NotFound("Annotation not found.", extra={"id": str(item.id)})
    if item.version:
        raise NotFound("Annotation not found (it was never created).", extra={"id": str(item.id)})
    if "geometry" not in item.fields:
        raise InvalidInput("A new annotation needs a geometry.", code="invalid_geometry")
    source = _new_source(access, item)
    author = None if source == Source.MODEL else ctx.actor.id  # proposals are the model's until someone decides
    row = NewRow(id=item.id, project_id=pair.project_id, pair_id=pair.id, author_id=author, source=source, properties={})
    _mutate(ctx, row, item, pair)
    row.status = Status.PROPOSED if source == Source.MODEL else Status.NONE
    return row


ACTION = {"upsert": AnnotationEvent.Action.UPDATE, "delete": AnnotationEvent.Action.DELETE, "accept": AnnotationEvent.Action.ACCEPT,
          "reject": AnnotationEvent.Action.REJECT, "restore": AnnotationEvent.Action.RESTORE}


RESULT = {"upsert": "updated", "delete": "deleted", "accept": "accepted", "reject": "rejected", "restore": "restored"}


def _check_items(items: list[BulkItem]) -> None:
    if len(items) > MAX_BULK_ITEMS:
        raise PayloadTooLarge(f"At most {MAX_BULK_ITEMS} items per bulk request.")
    if len({i.id for i in items}) != len(items):
        raise InvalidInput("Each annotation may appear once per bulk request.")
    for item in items:
        if item.op not in OPS:
            raise InvalidInput(f"op must be one of {', '.join(OPS)}.")


def _apply_items(ctx: BulkContext, items: list[BulkItem], rows: dict, now, stream: NewRowStream) -> tuple[list, list, list, list]:
    """Check and apply each item in memory; new rows go to `stream` at once. Returns results, conflicts, updates, events."""
    actor = ctx.actor
    results, conflicts, updates, events = [], [], [], []
    for index, item in enumerate(items):
        row = rows.get(item.id)
        pair = ctx.pair(row.pair_id if row is not None else item.pair_id)
        access = ctx.access_for(pair.project_id)
        if row is not None and not visibility_for(user=actor, access=access).allows(row):
            raise NotFound("Annotation not found.", extra={"id": str(item.id), "item": index})
        authorise(ctx, access, item, row, pair.id)
        if row is None:
            row = _create(ctx, access, item, pair)
            check_in_task(ctx, access, row)
            stream.write(row)
            ctx.created.append(row)
            after = _content(row)
            events.append(NewEvent(row.id, AnnotationEvent.Action.CREATE, actor.id, 1, None, after))
            results.append({"id": after["id"], "op": item.op, "result": "created", "version": 1, "annotation": {**after, "version": 1}})
            continue
        if _is_replay(ctx, row, item, pair):
            results.append({"id": str(row.id), "op": item.op, "result": "unchanged", "version": row.version, "annotation": annotation_to_dict(row)})
            continue
        if row.version != item.version:
            conflicts.append({"id": str(row.id), "item": index, "sent_version": item.version, "current": annotation_to_dict(row)})
            continue
        _check_state(row, item)
        before = _content(row)
        _mutate(ctx, row, item, pair)
        check_in_task(ctx, access, row)
        row.version += 1
        row.updated_at = now
        updates.append(row)
        after = _content(row)
        events.append(NewEvent(row.id, ACTION[item.op], actor.id, row.version, before, after))
        results.append({"id": after["id"], "op": item.op, "result": RESULT[item.op], "version": row.version,
                        "annotation": {**after, "version": row.version}})
    return results, conflicts, updates, events


@transaction.atomic
def _bulk_apply_atomic(*, actor, items: list[BulkItem], request_key: uuid.UUID | None) -> dict:
    ctx = BulkContext(actor=actor)
    rows = {r.id: r for r in locked_rows([i.id for i in items])}
    now = timezone.now()
    with NewRowStream(now, expected=len(items)) as stream:  # new rows reach PostgreSQL while the loop runs
        results, conflicts, updates, events = _apply_items(ctx, items, rows, now, stream)
        if conflicts:
            raise VersionConflict(
                f"{len(conflicts)} annotation(s) changed since you loaded them; nothing was saved.",
                extra={"conflicts": conflicts, "current": conflicts[0]["current"]},
            )
    if updates:
        update_annotations(updates, list(MUTABLE))
    insert_annotations(stream.pending, events)
    _broadcast_changes(ctx, ctx.created + updates)
    response = {"results": results, "replayed": False}
    if request_key is not None:
        BulkRequest.objects.create(key=request_key, user=actor, response=response)
    return response


def _broadcast_changes(ctx: BulkContext, rows: list[Annotation]) -> None:
    by_pair: dict[int, list[Annotation]] = {}
    for row in rows:
        by_pair.setdefault(row.pair_id, []).append(row)
    for pair_id, changed in by_pair.items():
        pair = ctx.pairs[pair_id]
        payload = {"pair": pair_id, "ids": [str(r.id) for r in changed]}
        if not pair.project.blind_mode:
            payload["tasks"] = sorted({r.task_id for r in changed if r.task_id is not None})
        broadcast([project_group(pair.project_id)], "annotations.changed", payload)


def _stored(actor, request_key: uuid.UUID | None) -> dict | None:
    if request_key is None:
        return None
    found = BulkRequest.objects.filter(user=actor, key=request_key).values_list("response", flat=True).first()
    return {**found, "replayed": True} if found is not None else None


def annotation_bulk_apply(*, actor, items: list[BulkItem], request_key: uuid.UUID | None = None) -> dict:
    """Apply a bulk request all-or-nothing (409 `version_conflict` with current rows); replays change nothing."""
    _check_items(items)
    stored = _stored(actor, request_key)
    if stored is not None:
        return stored
    try:
        return _bulk_apply_atomic(actor=actor, items=items, request_key=request_key)
    except IntegrityError:
        # a concurrent request created one of these ids (or used this key) first: answer against the new state
        stored = _stored(actor, request_key)
        if stored is not None:
            return stored
        return _bulk_apply_atomic(actor=actor, items=items, request_key=request_key)


@transaction.atomic
def annotation_accept_in_view(
    *, actor, pair: SlidePair, access: Access, bbox: tuple[float, float, float, float], task_id: int | None = None, reject: bool = False
) -> list[str]:
    """Accept (or reject) every visible open model proposal in a box; one event per proposal."""
    ctx = BulkContext(actor=actor, pairs={pair.id: pair}, access={pair.project_id: access})
    open_tasks = ctx.open_task_ids(pair.id) if access.role == Role.ANNOTATOR.value else None
    if open_tasks is not None and (not open_tasks or (task_id is not None and task_id not in open_tasks)):
        raise PermissionDenied("You can accept proposals only on slides with a task assigned to you.")
    x0, y0, x1, y1 = bbox
    if task_id is not None:  # only what lies in the task's field of view
        task = ctx.task(task_id, pair.id)
        x0, y0, x1, y1 = max(x0, task.min_x), max(y0, task.min_y), min(x1, task.max_x), min(y1, task.max_y)
    qs = Annotation.objects.select_for_update().filter(
        pair=pair, source=Source.MODEL, status=Status.PROPOSED, is_deleted=False,
        min_x__lte=x1, max_x__gte=x0, min_y__lte=y1, max_y__gte=y0,
    ).filter(Q(author__isnull=True) | Q(author=actor))  # not proposals another annotator already decided on
    rows = list(qs.order_by("id")[: MAX_ACCEPT_IN_VIEW + 1])
    if len(rows) > MAX_ACCEPT_IN_VIEW:
        raise PayloadTooLarge(f"More than {MAX_ACCEPT_IN_VIEW} proposals in view; zoom in.")
    now, events = timezone.now(), []
    for row in rows:
        before = _content(row)
        row.status = Status.REJECTED if reject else Status.ACCEPTED
        _adopt(ctx, row, pair)
        row.version += 1
        row.updated_at = now
        action = AnnotationEvent.Action.REJECT if reject else AnnotationEvent.Action.ACCEPT
        events.append(NewEvent(row.id, action, actor.id, row.version, before, _content(row)))
    update_annotations(rows, ["author_id", "status", "version", "updated_at"])
    insert_annotations([], events)
    _broadcast_changes(ctx, rows)
    return [str(r.id) for r in rows]
