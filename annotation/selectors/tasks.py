"""Task and assignment reads with per-user visibility: managers and reviewers see a project's all, annotators their own."""

from __future__ import annotations

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from annotation.errors import NotFound
from annotation.models import Assignment, Membership, Role, Task


def _overseen_project_ids(user) -> QuerySet:
    return Membership.objects.filter(user=user, role__in=[Role.MANAGER, Role.REVIEWER]).values("project_id")


def task_list_for_user(
    *, user, project_id: int | None = None, pair_id: int | None = None, status: str | None = None
) -> QuerySet[Task]:
    """Tasks the user may see: all in projects they manage or review, else the ones assigned to them."""
    if not user.is_authenticated:
        return Task.objects.none()
    qs = Task.objects.all()
    if not user.is_staff:
        mine = Assignment.objects.filter(annotator=user).values("task_id")
        qs = qs.filter(Q(project_id__in=_overseen_project_ids(user)) | Q(id__in=mine))
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    if pair_id is not None:
        qs = qs.filter(pair_id=pair_id)
    if status:
        qs = qs.filter(status=status)
    return qs.prefetch_related("classes").order_by("id")


def task_get_for_user(*, user, task_id: int) -> Task:
    """One visible task (404 otherwise)."""
    task = task_list_for_user(user=user).select_related("project", "pair__anatomical").filter(id=task_id).first()
    if task is None:
        raise NotFound("Task not found.")
    return task


def assignment_list_for_user(
    *,
    user,
    project_id: int | None = None,
    task_id: int | None = None,
    annotator_id: int | None = None,
    status: str | None = None,
) -> QuerySet[Assignment]:
    """Assignments the user may see: all in projects they manage or review, else their own."""
    if not user.is_authenticated:
        return Assignment.objects.none()
    qs = Assignment.objects.select_related("task", "annotator")
    if not user.is_staff:
        qs = qs.filter(Q(task__project_id__in=_overseen_project_ids(user)) | Q(annotator=user))
    filters = {"task__project_id": project_id, "task_id": task_id, "annotator_id": annotator_id, "status": status or None}
    qs = qs.filter(**{k: v for k, v in filters.items() if v is not None})
    return qs.order_by("id")


def assignment_get_for_user(*, user, assignment_id: int) -> Assignment:
    """One visible assignment (404 otherwise)."""
    found = assignment_list_for_user(user=user).select_related("task__project").filter(id=assignment_id).first()
    if found is None:
        raise NotFound("Assignment not found.")
    return found


def assignment_next_for_annotator(*, user, project_id: int | None = None) -> Assignment | None:
    """The annotator's next open assignment: in progress first, then by task priority, then oldest."""
    if not user.is_authenticated:
        return None
    qs = Assignment.objects.filter(
        annotator=user,
        status__in=[Assignment.Status.ASSIGNED, Assignment.Status.IN_PROGRESS],
        task__status__in=[Task.Status.OPEN, Task.Status.IN_PROGRESS],
        task__project__memberships__user=user,
    ).select_related("task")
    if project_id is not None:
        qs = qs.filter(task__project_id=project_id)
    started = Case(When(status=Assignment.Status.IN_PROGRESS, then=Value(0)), default=Value(1), output_field=IntegerField())
    return qs.annotate(started=started).order_by("started", "-task__priority", "task_id", "id").first()


def open_assignment_for(*, user, task_id: int) -> Assignment | None:
    """The user's open (assigned or in-progress) assignment on a task, if any."""
    return Assignment.objects.filter(
        annotator=user, task_id=task_id, status__in=[Assignment.Status.ASSIGNED, Assignment.Status.IN_PROGRESS]
    ).first()
