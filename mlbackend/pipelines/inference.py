"""Pre-annotation pipeline: the promoted model proposes cells on open tasks (never touching human labels)."""

from __future__ import annotations

import logging

import numpy as np
from django.conf import settings
from django.db import transaction

from annotation.imaging.readers import open_slide
from annotation.models import Job, Task
from annotation.services.jobs import job_create, job_fail, job_progress, job_start, job_succeed
from annotation.services.proposals import ProposedCell, proposals_replace
from mlbackend.models import ModelVersion

logger = logging.getLogger(__name__)


class Level0Reader:
    """Adapts an imaging reader to the engine's protocol (level-0 size, level-0 coordinates)."""

    def __init__(self, reader) -> None:
        self._reader = reader

    @property
    def dimensions(self) -> tuple[int, int]:
        return tuple(self._reader.info.level_dimensions[0])

    def read_region(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        return self._reader.read_region(0, x, y, w, h)


def preannotate_enqueue(*, project_id: int, version_id: int, task_ids: list[int] | None = None, created_by=None) -> Job:
    """Queue inference of a model version over the project's open annotate tasks (queue gpu)."""
    with transaction.atomic():
        job = job_create(kind=Job.Kind.INFERENCE, project_id=project_id, created_by=created_by,
                         target={"model_version_id": version_id, "task_ids": task_ids})
    from mlbackend.tasks import infer_tasks

    transaction.on_commit(lambda: infer_tasks.delay(str(job.id)))
    return job


def _open_tasks(project_id: int, task_ids: list[int] | None):
    tasks = Task.objects.filter(
        project_id=project_id, kind=Task.Kind.ANNOTATE, status__in=[Task.Status.OPEN, Task.Status.IN_PROGRESS]
    ).select_related("pair__anatomical")
    if task_ids:
        tasks = tasks.filter(id__in=task_ids)
    return list(tasks.order_by("id"))


def preannotate_run(*, job_id: str) -> int | None:
    """Infer cells on each open task and replace its open proposals; returns the proposals written."""
    job = job_start(job_id=job_id)
    if job is None:
        return None
    version = ModelVersion.objects.filter(id=job.target.get("model_version_id")).first()
    if version is None or not version.checkpoint_path:
        job_fail(job_id=job_id, error="The model version has no checkpoint.")
        return None
    try:
        written = _infer(job, version)
    except Exception as exc:
        logger.exception("inference job %s failed", job_id)
        job_fail(job_id=job_id, error=f"inference failed ({type(exc).__name__}: {exc})")
        return None
    job_succeed(job_id=job_id, result={"proposals": written, "model_version": version.id})
    return written


def _infer(job: Job, version: ModelVersion) -> int:
    from mlbackend.engine.inference.wsi import predict_region
    from mlbackend.engine.training.checkpoint import load_checkpoint

    bundle = load_checkpoint(version.checkpoint_path)
    tasks = _open_tasks(version.project_id, job.target.get("task_ids"))
    written = 0
    for index, task in enumerate(tasks):
        path = f"{settings.SLIDE_ROOT}/{task.pair.anatomical.file_path}"
        region = (int(task.min_x), int(task.min_y), int(task.max_x - task.min_x), int(task.max_y - task.min_y))
        with open_slide(path) as reader:
            prediction = predict_region(bundle, Level0Reader(reader), region, min_tissue=0.0)
        cells = [
            ProposedCell(
                geometry={"type": "Polygon", "coordinates": [[list(p) for p in c.polygon] + [list(c.polygon[0])]]}
                if len(c.polygon) >= 3 else {"type": "Point", "coordinates": [c.x, c.y]},
                class_name=bundle.class_names[c.cls] if 0 <= c.cls < len(bundle.class_names) else None,
                confidence=float(c.confidence),
            )
            for c in prediction.cells
        ]
        written += proposals_replace(task_id=task.id, model_version_id=version.id, cells=cells)
        job_progress(job_id=str(job.id), progress=(index + 1) / max(len(tasks), 1), message=f"task {task.id}: {len(cells)} cells")
    return written
