"""Import and export of labels: streamed QuPath GeoJSON, point CSV, COCO instances, partial-label masks.

Exports stream rows from a server-side cursor (a slide with 1,000,000 cells never sits in memory) and
honour blind mode; every export leaves an audit row. Imports go through the bulk annotation service, so
they are validated, versioned and written to history like any other change.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator

import numpy as np
from django.db import transaction

from annotation.errors import InvalidInput, PayloadTooLarge
from annotation.exchange.geojson import GeoJSONImportError, parse_features
from annotation.exchange.masks import MaskSpec, label_mask, mask_legend
from annotation.exchange.records import LabelRecord
from annotation.exchange.tabular import CocoImage, coco_document
from annotation.models import Annotation, AuditEvent, LabelClass, SlidePair, Task
from annotation.selectors.annotations import Visibility
from annotation.services.annotations import BulkItem, annotation_bulk_apply

logger = logging.getLogger(__name__)
MAX_IMPORT_FEATURES = 200_000
IMPORT_BATCH = 1000


def export_records(*, visibility: Visibility, pair_id: int | None = None, task_id: int | None = None,
                   sources: list[str] | None = None) -> Iterator[LabelRecord]:
    """Visible, non-deleted annotations as exchange records, streamed in id order."""
    rows = Annotation.objects.filter(visibility.q(), is_deleted=False)
    if pair_id is not None:
        rows = rows.filter(pair_id=pair_id)
    if task_id is not None:
        rows = rows.filter(task_id=task_id)
    if sources:
        rows = rows.filter(source__in=sources)
    values = rows.order_by("id").values_list(
        "id", "geometry", "label_class__name", "label_class__color", "source", "status", "author__username", "task_id",
        "confidence", "properties",
    )
    for aid, geometry, name, color, source, status, author, task, confidence, props in values.iterator(chunk_size=5000):
        measurements = (props or {}).get("measurements") or {}
        yield LabelRecord(id=str(aid), geometry=geometry, class_name=name, class_color=color, source=source,
                          status=status, author=author, task_id=task, confidence=confidence,
                          measurements=measurements if isinstance(measurements, dict) else {})


def export_audit(*, actor, project_id: int, fmt: str, target: str, detail: dict | None = None) -> None:
    """Who exported what, when."""
    AuditEvent.objects.create(actor=actor if actor.is_authenticated else None, project_id=project_id,
                              action=f"export.{fmt}", target=target, detail=detail or {})


def coco_export(*, visibility: Visibility, project_id: int, pair_id: int | None = None) -> dict:
    """COCO instances: one image per task region, polygons relative to the region's corner."""
    tasks = Task.objects.filter(project_id=project_id).exclude(status=Task.Status.ARCHIVED).order_by("id")
    if pair_id is not None:
        tasks = tasks.filter(pair_id=pair_id)
    images, by_image = [], {}
    for task in tasks:
        images.append(CocoImage(id=task.id, file_name=f"pair{task.pair_id}_task{task.id}.png",
                                width=int(task.max_x - task.min_x), height=int(task.max_y - task.min_y),
                                origin_x=task.min_x, origin_y=task.min_y))
        by_image[task.id] = list(export_records(visibility=visibility, task_id=task.id))
    names = list(LabelClass.objects.filter(project_id=project_id).order_by("order", "id").values_list("name", flat=True))
    return coco_document(images, by_image, names)


def task_mask(*, visibility: Visibility, task: Task, downsample: float = 1.0) -> tuple[np.ndarray, dict]:
    """The task's label mask (unknown / negative / class) and its legend."""
    names = list(task.classes.order_by("order", "id").values_list("name", flat=True)) or list(
        LabelClass.objects.filter(project_id=task.project_id).order_by("order", "id").values_list("name", flat=True))
    spec = MaskSpec(origin_x=task.min_x, origin_y=task.min_y, width_px=int(task.max_x - task.min_x),
                    height_px=int(task.max_y - task.min_y), downsample=max(1.0, float(downsample)))
    records = list(export_records(visibility=visibility, task_id=task.id))
    ring = task.region.get("coordinates", [[]])[0] if isinstance(task.region, dict) else None
    mask = label_mask(records, spec=spec, class_names=names, exhaustive=task.label_mode == Task.LabelMode.EXHAUSTIVE,
                      region_ring=ring)
    return mask, mask_legend(names)


def mask_png(mask: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(mask).save(out, format="PNG")
    return out.getvalue()


def _class_ids(project_id: int, records: list[LabelRecord], create: bool) -> dict[str, int]:
    existing = dict(LabelClass.objects.filter(project_id=project_id).values_list("name", "id"))
    missing = sorted({r.class_name for r in records if r.class_name and r.class_name not in existing})
    if missing and not create:
        raise InvalidInput(f"Unknown classes in the file: {', '.join(missing[:20])}. Create them first or import with "
                           "create_classes=true.", code="unknown_class")
    for index, name in enumerate(missing):
        color = next((r.class_color for r in records if r.class_name == name and r.class_color), "#888888")
        existing[name] = LabelClass.objects.create(project_id=project_id, name=name[:100], color=color,
                                                   order=len(existing) + index).id
    return existing


def geojson_import(*, actor, pair: SlidePair, data: bytes, create_classes: bool = False, task_id: int | None = None) -> dict:
    """Import QuPath GeoJSON onto a pair as new annotations (fresh ids; the file's id kept in properties)."""
    try:
        records = parse_features(data)
    except GeoJSONImportError as exc:
        raise InvalidInput(str(exc), code="invalid_geojson") from exc
    if len(records) > MAX_IMPORT_FEATURES:
        raise PayloadTooLarge(f"At most {MAX_IMPORT_FEATURES} features per import.")
    with transaction.atomic():
        classes = _class_ids(pair.project_id, records, create_classes)
        items = []
        for record in records:
            props = {"measurements": record.measurements} if record.measurements else {}
            if record.id:
                props["imported_id"] = record.id
            items.append(BulkItem(
                op="upsert", id=uuid.uuid4(), version=0, pair_id=pair.id, task_id=task_id,
                label_class_id=classes.get(record.class_name) if record.class_name else None,
                geometry=record.geometry, properties=props,
                fields=frozenset({"pair", "task", "label_class", "geometry", "properties"}),
            ))
        created = 0
        for start in range(0, len(items), IMPORT_BATCH):
            result = annotation_bulk_apply(actor=actor, items=items[start : start + IMPORT_BATCH])
            created += sum(1 for r in result["results"] if r["result"] == "created")
        AuditEvent.objects.create(actor=actor, project_id=pair.project_id, action="import.geojson",
                                  target=f"pair:{pair.id}", detail={"features": len(records), "created": created})
    return {"features": len(records), "created": created}
