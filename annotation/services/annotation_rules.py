"""Who may write what in a bulk request: the per-request lookups (pairs, roles, open tasks, classes) and the
role rules (annotators: only their open tasks, their own labels and undecided model proposals; reviewers: no
edits of annotators' labels; managers and admins: anything in their projects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db.models import OuterRef, Subquery

from annotation.errors import InvalidGeometry, InvalidInput, NotFound, PermissionDenied
from annotation.models import Annotation, Assignment, LabelClass, Membership, Role, SlidePair, Task
from annotation.selectors.projects import Access

if TYPE_CHECKING:
    from annotation.services.annotations import BulkItem

Source = Annotation.Source


@dataclass
class BulkContext:
    actor: object
    access: dict[int, Access] = field(default_factory=dict)
    pairs: dict[int, SlidePair] = field(default_factory=dict)
    classes: dict[int, set[int]] = field(default_factory=dict)
    open_tasks: dict[int, set[int]] = field(default_factory=dict)
    tasks: dict[int, Task] = field(default_factory=dict)
    created: list = field(default_factory=list)  # new rows of this request, for the broadcast

    def access_for(self, project_id: int) -> Access:
        """The actor's access to a project whose pair `pair()` has loaded (it reads the role with the pair)."""
        return self.access[project_id]

    def pair(self, pair_id: int | None) -> SlidePair:
        if pair_id not in self.pairs:
            pair = None
            if pair_id:  # the pair and the actor's role in its project in one query
                role = Membership.objects.filter(project_id=OuterRef("project_id"), user_id=self.actor.id).order_by("id")
                pair = (SlidePair.objects.select_related("project", "anatomical")
                        .annotate(actor_role=Subquery(role.values("role")[:1])).filter(id=pair_id).first())
            if pair is None:
                raise NotFound("Slide pair not found.")
            self.pairs[pair_id] = pair
            if pair.project_id not in self.access:
                role = "admin" if self.actor.is_staff else pair.actor_role
                if role is None:
                    raise NotFound("Slide pair not found.")
                self.access[pair.project_id] = Access(project=pair.project, role=role)
        return self.pairs[pair_id]

    def open_task_ids(self, pair_id: int) -> set[int]:
        if pair_id not in self.open_tasks:
            self.open_tasks[pair_id] = set(
                Assignment.objects.filter(
                    annotator=self.actor, task__pair_id=pair_id, status__in=[Assignment.Status.ASSIGNED, Assignment.Status.IN_PROGRESS],
                    task__status__in=[Task.Status.OPEN, Task.Status.IN_PROGRESS],
                ).values_list("task_id", flat=True)
            )
        return self.open_tasks[pair_id]

    def class_ids(self, project_id: int) -> set[int]:
        if project_id not in self.classes:
            self.classes[project_id] = set(LabelClass.objects.filter(project_id=project_id).values_list("id", flat=True))
        return self.classes[project_id]

    def task(self, task_id: int, pair_id: int) -> Task:
        if task_id not in self.tasks:
            self.tasks[task_id] = Task.objects.filter(id=task_id).first()
        task = self.tasks[task_id]
        if task is None or task.pair_id != pair_id:
            raise InvalidInput("The task does not belong to this slide pair.")
        return task


def check_annotator(ctx: BulkContext, item: BulkItem, row: Annotation | None, pair_id: int) -> None:
    open_tasks = ctx.open_task_ids(pair_id)
    if row is not None and row.source == Source.MODEL:
        if row.author_id is not None and row.author_id != ctx.actor.id:
            raise PermissionDenied("Another annotator already decided on this proposal; it is their label now.")
        if item.op == "restore" or not open_tasks:
            raise PermissionDenied("Only a reviewer or manager can do this to a model proposal.")
    elif row is not None and row.author_id != ctx.actor.id:
        raise PermissionDenied("Annotators change only their own annotations.")
    elif item.op in ("accept", "reject"):
        raise PermissionDenied("Annotators accept or reject model proposals only.")
    task_id = item.task_id if "task" in item.fields or row is None else row.task_id
    if (row is None or row.source != Source.MODEL or "task" in item.fields) and task_id not in open_tasks:
        raise PermissionDenied("You can label only on tasks assigned to you and not yet submitted.")


def check_in_task(ctx: BulkContext, access: Access, row: Annotation) -> None:
    """An annotator's label lies in their task's field of view (its centroid inside the task box)."""
    if access.role != Role.ANNOTATOR.value or row.source != Source.HUMAN or row.task_id is None:
        return
    task = ctx.task(row.task_id, row.pair_id)
    if not (task.min_x <= row.cx <= task.max_x and task.min_y <= row.cy <= task.max_y):
        raise InvalidGeometry("The annotation lies outside your task's field of view.", extra={"id": str(row.id)})


def authorise(ctx: BulkContext, access: Access, item: BulkItem, row: Annotation | None, pair_id: int) -> None:
    if access.role in ("admin", Role.MANAGER.value):
        return
    if access.role == Role.REVIEWER.value:
        if item.op in ("upsert", "delete") and row is not None and row.source not in (Source.REVIEW, Source.MODEL):
            raise PermissionDenied("Reviewers accept or reject annotators' labels; they do not edit them.")
        return
    check_annotator(ctx, item, row, pair_id)
