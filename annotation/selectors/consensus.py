"""Inputs of the consensus pipeline and the figures it produced (reliabilities, queue, quality)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from annotation.models import Annotation, AnnotatorQuality, Assignment, Membership, ReviewItem, Role, Task
from annotation.selectors.projects import REVIEWERS, project_get_for_user

REFERENCE_ROLES = (Role.MANAGER.value, Role.REVIEWER.value)


@dataclass(frozen=True)
class LabelRow:
    id: str
    author_id: int
    class_name: str
    x: float
    y: float
    ring: tuple[tuple[float, float], ...] | None
    created_at_s: float


@dataclass(frozen=True)
class ModelRow:
    x: float
    y: float
    class_name: str
    confidence: float
    ring: tuple[tuple[float, float], ...] | None


@dataclass(frozen=True)
class TaskInputs:
    task_id: int
    pair_id: int
    mode: str
    classes: tuple[str, ...]
    annotator_ids: tuple[int, ...]
    labels: tuple[LabelRow, ...]
    model_cells: tuple[ModelRow, ...]
    mpp: float


def _ring(geometry: dict) -> tuple[tuple[float, float], ...] | None:
    if geometry.get("type") != "Polygon":
        return None
    return tuple((float(x), float(y)) for x, y in geometry["coordinates"][0][:-1])


def consensus_inputs(*, project_id: int, model_version_id: int | None) -> list[TaskInputs]:
    """Annotators' labels of every task with submitted work (their own, and model proposals they accepted or
    edited), plus the model's cells of the given version."""
    tasks = list(
        Task.objects.filter(project_id=project_id, kind__in=[Task.Kind.ANNOTATE, Task.Kind.REVIEW])
        .exclude(status=Task.Status.ARCHIVED)
        .select_related("pair__anatomical")
        .prefetch_related("classes")
    )
    submitted: dict[int, set[int]] = {}
    for task_id, user_id in Assignment.objects.filter(
        task__project_id=project_id, status=Assignment.Status.SUBMITTED
    ).values_list("task_id", "annotator_id"):
        submitted.setdefault(task_id, set()).add(user_id)
    labels: dict[int, list[LabelRow]] = {}
    adopted = Q(source=Annotation.Source.MODEL, status__in=[Annotation.Status.ACCEPTED, Annotation.Status.EDITED])
    rows = Annotation.objects.filter(  # an annotator's own labels and the proposals they accepted or fixed
        Q(source=Annotation.Source.HUMAN) | adopted,
        project_id=project_id, is_deleted=False, label_class__isnull=False, author__isnull=False, task__isnull=False,
    ).values_list("id", "task_id", "author_id", "label_class__name", "cx", "cy", "geometry", "created_at")
    for aid, task_id, author, cls, cx, cy, geometry, created in rows.iterator(chunk_size=5000):
        labels.setdefault(task_id, []).append(
            LabelRow(str(aid), author, cls, cx, cy, _ring(geometry), created.timestamp())
        )
    model: dict[int, list[ModelRow]] = {}
    if model_version_id is not None:
        for task_id, cls, cx, cy, conf, geometry in Annotation.objects.filter(
            project_id=project_id, source=Annotation.Source.MODEL, model_version_id=model_version_id, is_deleted=False,
            task__isnull=False,
        ).exclude(status=Annotation.Status.REJECTED).values_list("task_id", "label_class__name", "cx", "cy", "confidence", "geometry"):
            model.setdefault(task_id, []).append(ModelRow(cx, cy, cls or "", float(conf or 0.0), _ring(geometry)))
    out = []
    for task in tasks:
        annotators = submitted.get(task.id, set()) | {lab.author_id for lab in labels.get(task.id, [])}
        if not annotators:
            continue
        out.append(
            TaskInputs(
                task_id=task.id, pair_id=task.pair_id, mode=task.label_mode,
                classes=tuple(c.name for c in task.classes.all()),
                annotator_ids=tuple(sorted(submitted.get(task.id, set()) or annotators)),
                labels=tuple(labels.get(task.id, [])), model_cells=tuple(model.get(task.id, [])),
                mpp=task.pair.anatomical.mpp_x or 0.25,
            )
        )
    return out


def gold_reference(*, task: Task) -> list[tuple[float, float, str]]:
    """The trusted cells of a gold task: reviewer resolutions, consensus, or labels by managers/reviewers."""
    trusted_authors = Membership.objects.filter(project_id=task.project_id, role__in=REFERENCE_ROLES).values_list(
        "user_id", flat=True
    )
    rows = Annotation.objects.filter(task=task, is_deleted=False, label_class__isnull=False).filter(
        source__in=[Annotation.Source.REVIEW, Annotation.Source.CONSENSUS]
    ) | Annotation.objects.filter(task=task, is_deleted=False, label_class__isnull=False, source=Annotation.Source.HUMAN,
                                  author_id__in=list(trusted_authors))
    return [(cx, cy, cls) for cx, cy, cls in rows.values_list("cx", "cy", "label_class__name")]


def annotator_reliabilities(*, project_id: int) -> dict[int, float]:
    """Latest Dawid-Skene reliability per annotator (training weights)."""
    return {
        user_id: float(rel)
        for user_id, rel in AnnotatorQuality.objects.filter(project_id=project_id, reliability__isnull=False).values_list(
            "user_id", "reliability"
        )
    }


def review_queue_for_user(*, user, project_id: int, status: str = "open") -> QuerySet[ReviewItem]:
    """The project's review queue, best review first (reviewers, managers, admins)."""
    project = project_get_for_user(user=user, project_id=project_id, roles=REVIEWERS)
    return ReviewItem.objects.filter(project=project, status=status).order_by("-score", "id")


def review_item_for_user(*, user, item_id: int) -> ReviewItem:
    from annotation.errors import NotFound

    item = ReviewItem.objects.select_related("task", "pair").filter(id=item_id).first()
    if item is None:
        raise NotFound("Review item not found.")
    project_get_for_user(user=user, project_id=item.project_id, roles=REVIEWERS)
    return item
