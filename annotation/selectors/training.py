"""What the ML backend may train on: task regions with their labels, label mode and asked classes.

Read-only and Django-side; mlbackend turns these records into engine samples. Human, review and
consensus labels count, and model proposals once a person accepted or edited them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from annotation.models import Annotation, LabelClass, Task

TRAINABLE = Q(is_deleted=False, label_class__isnull=False) & (
    Q(source__in=[Annotation.Source.HUMAN, Annotation.Source.REVIEW, Annotation.Source.CONSENSUS])
    | Q(source=Annotation.Source.MODEL, status__in=[Annotation.Status.ACCEPTED, Annotation.Status.EDITED])
)
# reviews are resolutions by a reviewer: they weigh more than a single lay label
SOURCE_WEIGHT = {"review": 3.0, "consensus": 1.5, "human": 1.0, "model": 1.0}


@dataclass(frozen=True)
class TrainingLabel:
    geometry: dict
    class_name: str
    author_id: int | None
    source: str
    weight: float


@dataclass(frozen=True)
class TrainingRegion:
    """A task's region on the anatomical slide with its labels (level-0 H&E px)."""

    task_id: int
    pair_id: int
    slide_path: str
    mpp: float | None
    rect: tuple[int, int, int, int]  # x0, y0, x1, y1
    label_mode: str
    classes: tuple[str, ...]
    labels: tuple[TrainingLabel, ...]


def training_label_count(*, project_id: int) -> int:
    return Annotation.objects.filter(TRAINABLE, project_id=project_id).count()


def project_class_names(*, project_id: int) -> list[str]:
    return list(LabelClass.objects.filter(project_id=project_id).order_by("order", "id").values_list("name", flat=True))


def training_regions(*, project_id: int, include_unlabelled: bool = False) -> list[TrainingRegion]:
    """Every annotate/gold/review task of the project with trainable labels (or all, for self-training)."""
    tasks = (
        Task.objects.filter(project_id=project_id)
        .exclude(status=Task.Status.ARCHIVED)
        .select_related("pair__anatomical")
        .prefetch_related("classes")
        .order_by("id")
    )
    labels_by_task: dict[int, list[TrainingLabel]] = {}
    rows = Annotation.objects.filter(TRAINABLE, project_id=project_id, task__isnull=False).values_list(
        "task_id", "geometry", "label_class__name", "author_id", "source", "weight"
    )
    for task_id, geometry, class_name, author_id, source, weight in rows.iterator(chunk_size=5000):
        labels_by_task.setdefault(task_id, []).append(
            TrainingLabel(geometry, class_name, author_id, source, float(weight) * SOURCE_WEIGHT.get(source, 1.0))
        )
    out = []
    root = str(settings.SLIDE_ROOT)
    for task in tasks:
        labels = labels_by_task.get(task.id, [])
        if not labels and not include_unlabelled:
            continue
        slide = task.pair.anatomical
        out.append(
            TrainingRegion(
                task_id=task.id,
                pair_id=task.pair_id,
                slide_path=f"{root}/{slide.file_path}",
                mpp=slide.mpp_x,
                rect=(int(task.min_x), int(task.min_y), int(task.max_x), int(task.max_y)),
                label_mode=task.label_mode,
                classes=tuple(c.name for c in task.classes.all()) or tuple(project_class_names(project_id=project_id)),
                labels=tuple(labels),
            )
        )
    return out
