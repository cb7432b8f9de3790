"""Gold tasks and onboarding: record an annotator's score on a gold task, qualify new annotators."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Avg

from annotation.events import broadcast, user_group
from annotation.models import AnnotatorQuality, GoldResult, Membership, Project, Task

logger = logging.getLogger(__name__)


def gold_submitted(*, task: Task, user_id: int) -> None:
    """After an annotator submits a gold task, score it in the ML backend (by task name: no import)."""
    if task.kind != Task.Kind.GOLD:
        return
    from celery import current_app

    transaction.on_commit(lambda: current_app.send_task("mlbackend.gold_score", args=[task.id, user_id], queue="default"))


@transaction.atomic
def gold_result_record(*, task_id: int, user_id: int, f1: float, precision: float, recall: float,
                       class_accuracy: float | None, feedback: list[dict]) -> GoldResult:
    """Store a gold score, update the annotator's quality and qualify them once they pass onboarding."""
    task = Task.objects.select_related("project").get(id=task_id)
    project: Project = task.project
    membership = Membership.objects.select_for_update().filter(project=project, user_id=user_id).first()
    result, _ = GoldResult.objects.update_or_create(
        task=task, user_id=user_id,
        defaults={"project": project, "f1": f1, "precision": precision, "recall": recall,
                  "class_accuracy": class_accuracy, "feedback": feedback,
                  "qualification": bool(membership and not membership.qualified)},
    )
    agg = GoldResult.objects.filter(project=project, user_id=user_id).aggregate(f1=Avg("f1"), acc=Avg("class_accuracy"))
    count = GoldResult.objects.filter(project=project, user_id=user_id).count()
    AnnotatorQuality.objects.update_or_create(
        project=project, user_id=user_id,
        defaults={"gold_f1": agg["f1"], "gold_class_accuracy": agg["acc"], "gold_tasks": count},
    )
    qualified_now = False
    if membership is not None and not membership.qualified:
        done = GoldResult.objects.filter(project=project, user_id=user_id, qualification=True)
        if done.count() >= project.qualification_tasks:
            mean = done.aggregate(f1=Avg("f1"))["f1"] or 0.0
            if mean >= project.qualification_min_score:
                membership.qualified = True
                membership.save(update_fields=["qualified"])
                qualified_now = True
    broadcast([user_group(user_id)], "gold.scored",
              {"task": task.id, "f1": round(f1, 3), "qualified": bool(membership and membership.qualified),
               "qualified_now": qualified_now})
    return result


@transaction.atomic
def gold_assignment_ensure(*, user, project_id: int, rng=None) -> None:
    """Serve gold tasks: all of an unqualified annotator's work until they qualify, then at `gold_rate`.

    Called before picking an annotator's next task; it adds one gold assignment they never had when due.
    """
    import random

    from annotation.models import Assignment

    membership = Membership.objects.filter(project_id=project_id, user=user, role="annotator").select_related("project").first()
    if membership is None:
        return
    open_statuses = [Assignment.Status.ASSIGNED, Assignment.Status.IN_PROGRESS]
    mine = Assignment.objects.filter(annotator=user, task__project_id=project_id)
    if mine.filter(status__in=open_statuses, task__kind=Task.Kind.GOLD).exists():
        return
    project = membership.project
    if membership.qualified:
        if mine.filter(status=Assignment.Status.IN_PROGRESS).exists():
            return  # gold is mixed in between tasks, never while one is open
        if project.gold_rate <= 0 or (rng or random).random() >= project.gold_rate:
            return
    gold = (
        Task.objects.filter(project_id=project_id, kind=Task.Kind.GOLD)
        .exclude(status=Task.Status.ARCHIVED)
        .exclude(assignments__annotator=user)
        .order_by("id")
        .first()
    )
    if gold is not None:
        Assignment.objects.create(task=gold, annotator=user)
