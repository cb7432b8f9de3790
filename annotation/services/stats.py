"""Progress and statistics per project, slide pair, task and annotator, honouring blind mode."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from annotation.models import Annotation, Assignment, Role, Task
from annotation.selectors.annotations import visibility_for
from annotation.selectors.projects import Access


@dataclass(frozen=True)
class StatsScope:
    """Optional narrowing of the statistics to one slide pair or task."""

    pair_id: int | None = None
    task_id: int | None = None


def _grouped(qs, field: str) -> dict[str, int]:
    return {str(r[field]): r["n"] for r in qs.values(field).annotate(n=Count("id")).order_by(field)}


def _annotation_block(qs) -> dict:
    by_status = _grouped(qs, "status")
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_class": _grouped(qs, "label_class_id"),
        "by_source": _grouped(qs, "source"),
    }


def _per_pair(annotations, tasks) -> list[dict]:
    counts = {r["pair_id"]: r["n"] for r in annotations.values("pair_id").annotate(n=Count("id")).order_by()}
    rows = tasks.values("pair_id", "pair__name").annotate(
        tasks=Count("id"), completed=Count("id", filter=Q(status=Task.Status.COMPLETED))
    ).order_by("pair_id")
    out = [
        {"pair": r["pair_id"], "name": r["pair__name"], "tasks": r["tasks"], "tasks_completed": r["completed"],
         "annotations": counts.pop(r["pair_id"], 0)}
        for r in rows
    ]
    out += [{"pair": pid, "name": "", "tasks": 0, "tasks_completed": 0, "annotations": n} for pid, n in counts.items()]
    return out


def _per_task(annotations, tasks) -> list[dict]:
    counts = {r["task_id"]: r["n"] for r in annotations.values("task_id").annotate(n=Count("id")).order_by()}
    rows = tasks.annotate(
        submitted=Count("assignments", filter=Q(assignments__status=Assignment.Status.SUBMITTED)),
        open=Count("assignments", filter=Q(assignments__status__in=[Assignment.Status.ASSIGNED, Assignment.Status.IN_PROGRESS])),
        time_s=Sum("assignments__time_spent_s"),
    ).values("id", "pair_id", "status", "submitted", "open", "time_s")
    return [
        {"task": r["id"], "pair": r["pair_id"], "status": r["status"], "assignments_submitted": r["submitted"],
         "assignments_open": r["open"], "time_spent_s": r["time_s"] or 0.0, "annotations": counts.get(r["id"], 0)}
        for r in rows.order_by("id")
    ]


def _per_annotator(annotations, assignments) -> list[dict]:
    counts = {
        r["author_id"]: r["n"]
        for r in annotations.filter(source=Annotation.Source.HUMAN).values("author_id").annotate(n=Count("id")).order_by()
    }
    rows = assignments.values("annotator_id", "annotator__username").annotate(
        assigned=Count("id"),
        submitted=Count("id", filter=Q(status=Assignment.Status.SUBMITTED)),
        skipped=Count("id", filter=Q(status=Assignment.Status.SKIPPED)),
        time_s=Sum("time_spent_s"),
    ).order_by("annotator_id")
    return [
        {"user": r["annotator_id"], "username": r["annotator__username"], "assignments": r["assigned"],
         "assignments_submitted": r["submitted"], "assignments_skipped": r["skipped"], "time_spent_s": r["time_s"] or 0.0,
         "annotations": counts.get(r["annotator_id"], 0)}
        for r in rows
    ]


def project_stats(*, user, access: Access, scope: StatsScope) -> dict:
    """Counts by status/class/source, assignments done and time spent; annotators see only their own work."""
    project = access.project
    visibility = visibility_for(user=user, access=access)
    annotations = Annotation.objects.filter(visibility.q(), is_deleted=False)
    tasks = Task.objects.filter(project=project)
    assignments = Assignment.objects.filter(task__project=project)
    if access.role == Role.ANNOTATOR.value:
        tasks = tasks.filter(assignments__annotator=user)
        assignments = assignments.filter(annotator=user)
    if scope.pair_id is not None:
        annotations, tasks = annotations.filter(pair_id=scope.pair_id), tasks.filter(pair_id=scope.pair_id)
        assignments = assignments.filter(task__pair_id=scope.pair_id)
    if scope.task_id is not None:
        annotations, tasks = annotations.filter(task_id=scope.task_id), tasks.filter(id=scope.task_id)
        assignments = assignments.filter(task_id=scope.task_id)
    totals = assignments.aggregate(time_s=Sum("time_spent_s"))
    return {
        "project": project.id,
        "blind": visibility.own_only_user_id is not None,
        "annotations": _annotation_block(annotations),
        "tasks": {"total": tasks.count(), "by_status": _grouped(tasks, "status")},
        "assignments": {"total": assignments.count(), "by_status": _grouped(assignments, "status"),
                        "time_spent_s": totals["time_s"] or 0.0},
        "pairs": _per_pair(annotations, tasks),
        "per_task": _per_task(annotations, tasks),
        "annotators": _per_annotator(annotations, assignments),
    }
