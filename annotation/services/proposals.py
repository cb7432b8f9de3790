"""Model proposals (pre-annotations): written by the ML backend, never touching human labels."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import transaction

from annotation.events import broadcast, project_group
from annotation.geometry import validate_geometry
from annotation.models import Annotation, AnnotationEvent, LabelClass, Task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProposedCell:
    geometry: dict
    class_name: str | None
    confidence: float


@transaction.atomic
def proposals_replace(*, task_id: int, model_version_id: int, cells: list[ProposedCell]) -> int:
    """Replace a task's still-open proposals with a model version's cells; returns how many were written.

    Proposals a person already accepted, edited or rejected stay as they are (they are labels now).
    """
    task = Task.objects.select_for_update().select_related("pair__anatomical").get(id=task_id)
    classes = dict(LabelClass.objects.filter(project_id=task.project_id).values_list("name", "id"))
    stale = Annotation.objects.filter(
        task_id=task_id, source=Annotation.Source.MODEL, status=Annotation.Status.PROPOSED, is_deleted=False
    )
    stale_ids = list(stale.values_list("id", flat=True))
    stale.update(is_deleted=True)
    AnnotationEvent.objects.bulk_create(
        [AnnotationEvent(annotation_id=i, action=AnnotationEvent.Action.DELETE, model_version_id=model_version_id,
                         version=1, before=None, after={"reason": "superseded"}) for i in stale_ids]
    )
    rows = []
    slide = task.pair.anatomical
    for cell in cells:
        try:
            info = validate_geometry(cell.geometry, width=slide.width or None, height=slide.height or None)
        except Exception:  # a malformed model outline is dropped, never stored
            logger.debug("dropping invalid proposal geometry", exc_info=True)
            continue
        rows.append(
            Annotation(
                id=uuid.uuid4(), project_id=task.project_id, pair_id=task.pair_id, task_id=task.id,
                label_class_id=classes.get(cell.class_name or ""), geom_type=info.geom_type, geometry=info.geometry,
                min_x=info.min_x, min_y=info.min_y, max_x=info.max_x, max_y=info.max_y, cx=info.cx, cy=info.cy,
                source=Annotation.Source.MODEL, model_version_id=model_version_id,
                confidence=float(cell.confidence), status=Annotation.Status.PROPOSED,
            )
        )
    Annotation.objects.bulk_create(rows, batch_size=1000)
    AnnotationEvent.objects.bulk_create(
        [AnnotationEvent(annotation_id=r.id, action=AnnotationEvent.Action.CREATE, model_version_id=model_version_id,
                         version=1, after={"geometry": r.geometry, "class": r.label_class_id, "confidence": r.confidence})
         for r in rows],
        batch_size=1000,
    )
    broadcast(
        [project_group(task.project_id)],
        "preannotations.ready",
        {"task": task.id, "pair": task.pair_id, "model_version": model_version_id, "count": len(rows)},
    )
    return len(rows)
