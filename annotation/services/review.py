"""Consensus results, review queues and their resolution; annotator quality and task priorities.

Written by the ML backend's consensus pipeline (through these services only) and by reviewers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import uuid
from collections import Counter
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from annotation.errors import InvalidInput, InvalidTransition
from annotation.events import broadcast, project_group
from annotation.geometry import validate_geometry
from annotation.models import (
    AgreementSnapshot,
    Annotation,
    AnnotationEvent,
    AnnotatorQuality,
    LabelClass,
    ReviewItem,
    Task,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsensusLabel:
    task_id: int
    class_name: str
    posterior: float
    x: float
    y: float
    ring: tuple[tuple[float, float], ...] | None
    support: int


@dataclass(frozen=True)
class QueueEntry:
    task_id: int
    x: float
    y: float
    score: float
    reason: str
    reasons: tuple[str, ...]
    competing: list[dict]


def _geometry(x: float, y: float, ring) -> dict:
    if ring and len(ring) >= 3:
        pts = [[float(a), float(b)] for a, b in ring]
        return {"type": "Polygon", "coordinates": [pts + [pts[0]]]}
    return {"type": "Point", "coordinates": [float(x), float(y)]}


def _consensus_geometry(lab: ConsensusLabel) -> tuple[str, dict, float, float, float, float, float, float]:
    """(geom_type, geometry, min_x, min_y, max_x, max_y, cx, cy); points skip the validator (finite floats)."""
    if lab.ring and len(lab.ring) >= 3:
        try:
            info = validate_geometry(_geometry(lab.x, lab.y, lab.ring))
            return info.geom_type, info.geometry, info.min_x, info.min_y, info.max_x, info.max_y, info.cx, info.cy
        except InvalidInput:
            pass
    x, y = float(lab.x), float(lab.y)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InvalidInput("Consensus position is not finite.")
    return "Point", {"type": "Point", "coordinates": [x, y]}, x, y, x, y, x, y


def _delete_annotations(ids: list) -> None:
    """Delete annotations (and their events) by id with set-based statements, no per-row collection."""
    if not ids:
        return
    if connection.vendor != "postgresql":
        for start in range(0, len(ids), 2000):
            Annotation.objects.filter(id__in=ids[start:start + 2000]).delete()
        return
    ann, ev = Annotation._meta.db_table, AnnotationEvent._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {ev} WHERE annotation_id = ANY(%s)", [ids])  # noqa: S608 (model tables)
        cur.execute(f"DELETE FROM {ann} WHERE id = ANY(%s)", [ids])  # noqa: S608


_COPY_FIELDS = ("id", "project", "pair", "task", "label_class", "geom_type", "geometry", "min_x", "min_y", "max_x",
                "max_y", "cx", "cy", "source", "confidence", "weight", "properties", "status", "version",
                "is_deleted", "created_at", "updated_at")


def _copy_rows(rows: list[tuple]) -> None:
    """COPY consensus rows (tuples in _COPY_FIELDS order, geometry/properties as JSON text) into PostgreSQL."""
    columns = ", ".join(Annotation._meta.get_field(f).column for f in _COPY_FIELDS)
    now = timezone.now().isoformat()
    tail = f"\t{Annotation.Status.NONE.value}\t1\tf\t{now}\t{now}\n"
    with connection.cursor() as cur:
        raw = cur.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {Annotation._meta.db_table} ({columns}) FROM STDIN") as copy:
            for start in range(0, len(rows), 10_000):
                # JSON of numbers and plain keys has no tab, newline or backslash: safe in COPY text format.
                copy.write("".join("\t".join(map(str, row)) + tail for row in rows[start:start + 10_000]))


@transaction.atomic
def consensus_replace(*, project_id: int, labels: list[ConsensusLabel]) -> int:
    """Make the project's consensus annotations equal to `labels` (one per agreed cell, confidence = posterior).

    Each row carries a fingerprint of its content (properties.key): rows that a rebuild reproduces
    exactly stay (same id), stale ones are deleted, new ones inserted, so a periodic rebuild that
    changes a few cells writes a few rows. On PostgreSQL inserts go in with one COPY. Returns the
    number of consensus annotations the project now has.
    """
    classes = dict(LabelClass.objects.filter(project_id=project_id).values_list("name", "id"))
    pairs = dict(Task.objects.filter(project_id=project_id).values_list("id", "pair_id"))
    rows, keys = [], []
    consensus = Annotation.Source.CONSENSUS.value
    for lab in labels:
        if lab.class_name not in classes or lab.task_id not in pairs:
            continue
        kind, geometry, x0, y0, x1, y1, cx, cy = _consensus_geometry(lab)
        p = round(float(lab.posterior), 2)  # 2 decimals: a refit's tiny posterior shifts leave the row as it is
        row = (pairs[lab.task_id], lab.task_id, classes[lab.class_name], kind, geometry, x0, y0, x1, y1, cx, cy,
               p, int(lab.support))
        text = repr(row[:4] + row[5:]) + (json.dumps(geometry) if kind == "Polygon" else "")
        rows.append(row)
        keys.append(hashlib.blake2b(text.encode(), digest_size=10).hexdigest())
    wanted = Counter(keys)
    stale = []
    with connection.cursor() as cur:
        cur.execute(f"SELECT id, properties ->> 'key' FROM {Annotation._meta.db_table} "  # noqa: S608 (model table)
                    "WHERE project_id = %s AND source = %s", [project_id, consensus])
        for ann_id, key in cur.fetchall():
            if wanted.get(key, 0) > 0:
                wanted[key] -= 1
            else:
                stale.append(ann_id)
    _delete_annotations(stale)
    fresh = []
    for row, key in zip(rows, keys, strict=True):
        if wanted.get(key, 0) > 0:
            wanted[key] -= 1
            pair, task, cls, kind, geometry, x0, y0, x1, y1, cx, cy, p, support = row
            fresh.append((uuid.uuid4(), project_id, pair, task, cls, kind, json.dumps(geometry), x0, y0, x1, y1, cx,
                          cy, consensus, p, p, json.dumps({"support": support, "key": key})))
    if connection.vendor == "postgresql":
        _copy_rows(fresh)
    else:
        names = ("id", "project_id", "pair_id", "task_id", "label_class_id", *_COPY_FIELDS[5:17])
        Annotation.objects.bulk_create([
            Annotation(**dict(zip(names, (*r[:6], json.loads(r[6]), *r[7:16], json.loads(r[16])), strict=True)))
            for r in fresh
        ], batch_size=5000)
    logger.info("consensus of project %s: %d rows kept, %d deleted, %d inserted", project_id,
                len(rows) - len(fresh), len(stale), len(fresh))
    return len(rows)


@transaction.atomic
def review_queue_replace(*, project_id: int, entries: list[QueueEntry], generation: int) -> int:
    """Replace the open review items of a project (resolved ones stay as history); pushes review.changed."""
    pairs = dict(Task.objects.filter(project_id=project_id).values_list("id", "pair_id"))
    ReviewItem.objects.filter(project_id=project_id, status=ReviewItem.Status.OPEN).delete()
    items = [
        ReviewItem(project_id=project_id, pair_id=pairs[e.task_id], task_id=e.task_id, x=e.x, y=e.y, score=e.score,
                   reason=e.reason, reasons=list(e.reasons), competing=e.competing, generation=generation)
        for e in entries if e.task_id in pairs
    ]
    ReviewItem.objects.bulk_create(items, batch_size=5000)
    broadcast([project_group(project_id)], "review.changed", {"project": project_id, "open": len(items)})
    return len(items)


@transaction.atomic
def quality_record(*, project_id: int, rows: dict[int, dict]) -> None:
    """Store the latest quality figures per annotator (user id -> fields of AnnotatorQuality)."""
    fields = {f.name for f in AnnotatorQuality._meta.get_fields()}
    for user_id, values in rows.items():
        clean = {k: v for k, v in values.items() if k in fields and k not in {"id", "project", "user"}}
        AnnotatorQuality.objects.update_or_create(project_id=project_id, user_id=user_id, defaults=clean)


def agreement_snapshot_record(*, project_id: int, **values) -> AgreementSnapshot:
    return AgreementSnapshot.objects.create(project_id=project_id, **values)


@transaction.atomic
def task_priorities_record(*, priorities: dict[int, float]) -> None:
    """Active learning: distribution serves high-priority tasks first (one UPDATE per 1,000 tasks)."""
    rows = [Task(id=int(t), priority=round(float(p), 6)) for t, p in priorities.items()]
    Task.objects.bulk_update(rows, ["priority"], batch_size=1000)


RESOLUTIONS = ("pick", "fix", "reject", "dismiss")


def _label_snapshot(a: Annotation) -> dict:
    return {"class": a.label_class_id, "geometry": a.geometry, "weight": a.weight, "status": a.status}


@transaction.atomic
def review_resolve(*, item: ReviewItem, actor, action: str, class_name: str | None = None,
                   geometry: dict | None = None) -> ReviewItem:
    """Resolve a review item: pick/fix writes a high-weight review label, reject zeroes the competing labels."""
    item = ReviewItem.objects.select_for_update(of=("self",)).select_related("task__pair__anatomical").get(id=item.id)
    if item.status != ReviewItem.Status.OPEN:
        raise InvalidTransition(f"This review item is already {item.status}.", code="already_resolved")
    if action not in RESOLUTIONS:
        raise InvalidInput(f"action must be one of {', '.join(RESOLUTIONS)}.")
    competing_ids = [lid for c in item.competing for lid in c.get("label_ids", [])]
    resolution: dict = {"action": action}
    if action in ("pick", "fix"):
        label_class = LabelClass.objects.filter(project_id=item.project_id, name=class_name).first()
        if label_class is None:
            raise InvalidInput("Pick or fix needs a class of this project.", code="invalid_class")
        slide = item.task.pair.anatomical if item.task else None
        info = validate_geometry(geometry or {"type": "Point", "coordinates": [item.x, item.y]},
                                 width=getattr(slide, "width", None) or None, height=getattr(slide, "height", None) or None)
        review = Annotation.objects.create(
            project_id=item.project_id, pair_id=item.pair_id, task_id=item.task_id, label_class=label_class,
            geom_type=info.geom_type, geometry=info.geometry, min_x=info.min_x, min_y=info.min_y, max_x=info.max_x,
            max_y=info.max_y, cx=info.cx, cy=info.cy, source=Annotation.Source.REVIEW, author=actor,
            status=Annotation.Status.ACCEPTED, properties={"review_item": item.id},
        )
        AnnotationEvent.objects.create(annotation=review, action=AnnotationEvent.Action.REVIEW, actor=actor, version=1,
                                       after={**_label_snapshot(review), "review_item": item.id})
        resolution.update(annotation=str(review.id), class_name=class_name)
    if action == "reject":
        for label in Annotation.objects.select_for_update().filter(id__in=competing_ids, is_deleted=False):
            before = _label_snapshot(label)
            label.weight = 0.0
            label.version += 1
            label.save(update_fields=["weight", "version", "updated_at"])
            AnnotationEvent.objects.create(annotation=label, action=AnnotationEvent.Action.REVIEW, actor=actor,
                                           version=label.version, before=before,
                                           after={**_label_snapshot(label), "review_item": item.id})
    item.status = ReviewItem.Status.DISMISSED if action == "dismiss" else ReviewItem.Status.RESOLVED
    item.resolution = resolution
    item.resolved_by = actor
    item.resolved_at = timezone.now()
    item.save(update_fields=["status", "resolution", "resolved_by", "resolved_at"])
    broadcast([project_group(item.project_id)], "review.changed", {"project": item.project_id, "resolved": item.id})
    return item
