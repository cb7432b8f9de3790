"""Tasks and assignments: grid generation over tissue, k-annotator distribution, start/submit/skip."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from annotation.errors import InvalidInput, InvalidTransition, NotFound
from annotation.events import broadcast, project_group, user_group
from annotation.geometry import box_polygon, validate_geometry
from annotation.models import Assignment, LabelClass, Membership, Project, Role, SlidePair, Task
from annotation.services.gold import gold_submitted

logger = logging.getLogger(__name__)
MAX_TASKS_PER_BATCH = 10_000
MAX_SESSION_S = 2 * 3600  # a work session longer than this is counted as this (an idle tab is not work)
OPEN_ASSIGNMENT = (Assignment.Status.ASSIGNED, Assignment.Status.IN_PROGRESS)
ACTIVE_TASK = (Task.Status.OPEN, Task.Status.IN_PROGRESS)


@dataclass(frozen=True)
class GridSpec:
    """How to cut a slide pair into fields of view."""

    field_um: float | None = None
    field_px: float | None = None
    overlap: float = 0.0
    min_tissue: float = 0.0


@dataclass(frozen=True)
class TaskSettings:
    """What every task of a batch asks the annotators for."""

    label_mode: str = Task.LabelMode.SPARSE
    kind: str = Task.Kind.ANNOTATE
    class_ids: tuple[int, ...] = ()
    priority: float = 0.0


def _check_settings(*, project: Project, settings: TaskSettings) -> list[LabelClass]:
    if settings.label_mode not in Task.LabelMode.values:
        raise InvalidInput(f"label_mode must be one of {', '.join(Task.LabelMode.values)}.")
    if settings.kind not in Task.Kind.values:
        raise InvalidInput(f"kind must be one of {', '.join(Task.Kind.values)}.")
    classes = list(LabelClass.objects.filter(project=project, id__in=settings.class_ids))
    if len(classes) != len(set(settings.class_ids)):
        raise InvalidInput("Every class must belong to the project.")
    return classes


def _field_px(pair: SlidePair, spec: GridSpec) -> float:
    if spec.field_px:
        return float(spec.field_px)
    mpp = pair.anatomical.mpp_x
    if not spec.field_um or not mpp:
        raise InvalidInput("Give field_um (the slide's mpp must be known) or field_px.")
    return float(spec.field_um) / float(mpp)


def _starts(length: int, size: float, step: float) -> list[float]:
    if size >= length:
        return [0.0]
    count = math.ceil((length - size) / step) + 1
    return [min(i * step, length - size) for i in range(count)]


def tissue_mask_array(mask: dict) -> tuple[np.ndarray, float] | None:
    """Parse a pair's `tissue_mask` ({"step_px": s, "rows": ["0110", ...] or [[0,1,1,0], ...]}); None if empty."""
    rows = (mask or {}).get("rows")
    step = float((mask or {}).get("step_px") or 0)
    if not rows or step <= 0:
        return None
    parsed = [[ch == "1" for ch in row] if isinstance(row, str) else [bool(v) for v in row] for row in rows]
    width = max(len(r) for r in parsed)
    grid = np.zeros((len(parsed), width), dtype=bool)
    for i, row in enumerate(parsed):
        grid[i, : len(row)] = row
    return grid, step


def _tissue_share(grid: np.ndarray, step: float, x0: float, y0: float, size: float) -> float:
    c0, r0 = int(x0 // step), int(y0 // step)
    c1, r1 = int(math.ceil((x0 + size) / step)), int(math.ceil((y0 + size) / step))
    window = grid[r0:r1, c0:c1]
    return float(window.mean()) if window.size else 0.0


def grid_fields(*, width: int, height: int, size: float, overlap: float, mask: dict, min_tissue: float) -> list[tuple]:
    """Boxes (x0, y0, x1, y1, row, col) of a grid of fields of view that hold tissue."""
    step = size * (1.0 - overlap)
    parsed = tissue_mask_array(mask)
    fields = []
    for row, y0 in enumerate(_starts(height, size, step)):
        for col, x0 in enumerate(_starts(width, size, step)):
            x1, y1 = min(x0 + size, width), min(y0 + size, height)
            if parsed is not None:
                share = _tissue_share(parsed[0], parsed[1], x0, y0, size)
                if share <= min_tissue if min_tissue > 0 else share == 0:
                    continue
            fields.append((x0, y0, x1, y1, row, col))
    return fields


def _attach_classes(tasks: list[Task], classes: list[LabelClass]) -> None:
    through = Task.classes.through
    through.objects.bulk_create([through(task_id=t.id, labelclass_id=c.id) for t in tasks for c in classes])


@transaction.atomic
def task_generate_grid(*, actor, pair: SlidePair, spec: GridSpec, settings: TaskSettings) -> list[Task]:
    """Cut a slide pair into a grid of field-of-view tasks over its tissue; broadcasts `tasks.changed`."""
    slide = pair.anatomical
    if not slide.width or not slide.height:
        raise InvalidInput("The anatomical slide has no size yet (is it ingested?).")
    if not 0 <= spec.overlap < 0.9:
        raise InvalidInput("overlap must be in [0, 0.9).")
    classes = _check_settings(project=pair.project, settings=settings)
    size = _field_px(pair, spec)
    if size < 16:
        raise InvalidInput("A field of view must be at least 16 px wide.")
    fields = grid_fields(
        width=slide.width, height=slide.height, size=size, overlap=spec.overlap, mask=pair.tissue_mask, min_tissue=spec.min_tissue
    )
    if len(fields) > MAX_TASKS_PER_BATCH:
        raise InvalidInput(f"{len(fields)} fields; at most {MAX_TASKS_PER_BATCH} per batch (use bigger fields).")
    tasks = Task.objects.bulk_create(
        [
            Task(
                project=pair.project, pair=pair, name=f"{pair.name} r{row + 1} c{col + 1}",
                region=box_polygon(x0, y0, x1, y1), min_x=x0, min_y=y0, max_x=x1, max_y=y1,
                label_mode=settings.label_mode, kind=settings.kind, priority=settings.priority,
            )
            for x0, y0, x1, y1, row, col in fields
        ]
    )
    _attach_classes(tasks, classes)
    broadcast([project_group(pair.project_id)], "tasks.changed", {"pair": pair.id, "created": len(tasks)})
    return tasks


@transaction.atomic
def task_create(*, actor, pair: SlidePair, region: dict, name: str = "", settings: TaskSettings) -> Task:
    """Create one task over a polygon region of a slide pair."""
    classes = _check_settings(project=pair.project, settings=settings)
    info = validate_geometry(region, width=pair.anatomical.width or None, height=pair.anatomical.height or None)
    if info.geom_type != "Polygon" or info.max_x <= info.min_x or info.max_y <= info.min_y:
        raise InvalidInput("A task region is a Polygon with an area.", code="invalid_geometry")
    task = Task.objects.create(
        project=pair.project, pair=pair, name=name, region=info.geometry, min_x=info.min_x, min_y=info.min_y,
        max_x=info.max_x, max_y=info.max_y, label_mode=settings.label_mode, kind=settings.kind, priority=settings.priority,
    )
    _attach_classes([task], classes)
    broadcast([project_group(pair.project_id)], "tasks.changed", {"pair": pair.id, "created": 1})
    return task


@transaction.atomic
def task_update(*, actor, task: Task, values: dict) -> Task:
    """Change a task's name, priority, label mode, kind or classes."""
    for key in ("name", "priority", "label_mode", "kind"):
        if key in values:
            setattr(task, key, values[key])
    _check_settings(project=task.project, settings=TaskSettings(label_mode=task.label_mode, kind=task.kind))
    task.save()
    if "class_ids" in values:
        classes = _check_settings(project=task.project, settings=TaskSettings(class_ids=tuple(values["class_ids"])))
        task.classes.set(classes)
    broadcast([project_group(task.project_id)], "tasks.changed", {"task": task.id})
    return task


@transaction.atomic
def task_archive(*, actor, task: Task) -> Task:
    """Archive a task: it leaves every queue; open assignments are withdrawn."""
    task = Task.objects.select_for_update().get(id=task.id)
    if task.status == Task.Status.ARCHIVED:
        raise InvalidTransition("The task is already archived.")
    task.status = Task.Status.ARCHIVED
    task.save(update_fields=["status"])
    task.assignments.filter(status__in=OPEN_ASSIGNMENT).delete()
    broadcast([project_group(task.project_id)], "tasks.changed", {"task": task.id})
    return task


@transaction.atomic
def task_delete(*, actor, task: Task) -> None:
    """Delete a task with no submitted work (archive it otherwise); its annotations stay on the pair."""
    if task.assignments.filter(status=Assignment.Status.SUBMITTED).exists():
        raise InvalidTransition("The task has submitted work; archive it instead.", code="in_use")
    project_id = task.project_id
    task.delete()
    broadcast([project_group(project_id)], "tasks.changed", {"deleted": 1})


def _open_load(project: Project) -> dict[int, int]:
    annotators = Membership.objects.filter(project=project, role=Role.ANNOTATOR, qualified=True)
    load = {m.user_id: 0 for m in annotators}
    rows = (
        Assignment.objects.filter(task__project=project, status__in=OPEN_ASSIGNMENT, annotator_id__in=list(load))
        .values("annotator_id")
        .annotate(n=Count("id"))
    )
    for row in rows:
        load[row["annotator_id"]] = row["n"]
    return load


def _fill(task: Task, k: int, load: dict[int, int], seen: set[int], active: int) -> list[Assignment]:
    need = k - active
    if need <= 0:
        return []
    candidates = sorted((n, uid) for uid, n in load.items() if uid not in seen)[:need]
    for _, uid in candidates:
        load[uid] += 1
        seen.add(uid)
    return [Assignment(task=task, annotator_id=uid) for _, uid in candidates]


@transaction.atomic
def task_distribute(*, actor, project: Project, task_ids: list[int] | None = None) -> list[Assignment]:
    """Give each active task k distinct annotators, fewest open assignments first; never one person twice."""
    Project.objects.select_for_update().filter(id=project.id).first()  # one distribution run at a time
    load = _open_load(project)
    tasks = Task.objects.filter(project=project, status__in=ACTIVE_TASK).exclude(kind=Task.Kind.REVIEW)
    if task_ids is not None:
        tasks = tasks.filter(id__in=task_ids)
    tasks = tasks.annotate(
        active=Count("assignments", filter=~Q(assignments__status=Assignment.Status.SKIPPED))
    ).order_by("-priority", "id")
    tasks = list(tasks)
    seen_by_task: dict[int, set[int]] = {}
    pairs = Assignment.objects.filter(task_id__in=[t.id for t in tasks]).values_list("task_id", "annotator_id")
    for task_id, uid in pairs:
        seen_by_task.setdefault(task_id, set()).add(uid)
    created: list[Assignment] = []
    for task in tasks:
        created += _fill(task, project.redundancy_k, load, seen_by_task.setdefault(task.id, set()), task.active)
    Assignment.objects.bulk_create(created)
    for uid in {a.annotator_id for a in created}:
        broadcast([user_group(uid)], "assignments.changed", {"project": project.id})
    return created


@transaction.atomic
def assignment_create(*, actor, task: Task, annotator_id: int) -> Assignment:
    """Assign a task to a project member by hand (409 `duplicate` if they already had it)."""
    if task.status not in ACTIVE_TASK:
        raise InvalidTransition("Only open or in-progress tasks can be assigned.")
    if not Membership.objects.filter(project_id=task.project_id, user_id=annotator_id).exists():
        raise NotFound("No such member in this project.")
    if Assignment.objects.filter(task=task, annotator_id=annotator_id).exists():
        raise InvalidTransition("This person already has (or had) this task.", code="duplicate")
    assignment = Assignment.objects.create(task=task, annotator_id=annotator_id)
    broadcast([user_group(annotator_id)], "assignments.changed", {"project": task.project_id})
    return assignment


@transaction.atomic
def assignment_delete(*, actor, assignment: Assignment) -> None:
    """Withdraw an open assignment (submitted work stays)."""
    assignment = Assignment.objects.select_for_update().get(id=assignment.id)
    if assignment.status not in OPEN_ASSIGNMENT:
        raise InvalidTransition("Only open assignments can be withdrawn.")
    broadcast([user_group(assignment.annotator_id)], "assignments.changed", {"task": assignment.task_id})
    assignment.delete()


def _lock(assignment: Assignment) -> Assignment:
    return Assignment.objects.select_for_update().select_related("task").get(id=assignment.id)


def _accumulate(assignment: Assignment, now) -> None:
    if assignment.resumed_at is not None:
        elapsed = max(0.0, (now - assignment.resumed_at).total_seconds())
        assignment.time_spent_s += min(elapsed, MAX_SESSION_S)
    assignment.resumed_at = None


@transaction.atomic
def assignment_start(*, actor, assignment: Assignment) -> Assignment:
    """Start (or resume) work on an assignment; the task becomes in progress."""
    assignment = _lock(assignment)
    if assignment.status not in OPEN_ASSIGNMENT or assignment.task.status not in ACTIVE_TASK:
        raise InvalidTransition(f"Cannot start an assignment that is {assignment.status}.")
    now = timezone.now()
    _accumulate(assignment, now)
    assignment.status = Assignment.Status.IN_PROGRESS
    assignment.started_at = assignment.started_at or now
    assignment.resumed_at = now
    assignment.save()
    Task.objects.filter(id=assignment.task_id, status=Task.Status.OPEN).update(status=Task.Status.IN_PROGRESS)
    return assignment


@transaction.atomic
def assignment_submit(*, actor, assignment: Assignment) -> Assignment:
    """Submit a started assignment; the task completes once k annotators submitted it."""
    assignment = _lock(assignment)
    if assignment.status != Assignment.Status.IN_PROGRESS:
        raise InvalidTransition(f"Only an assignment in progress can be submitted (it is {assignment.status}).")
    now = timezone.now()
    _accumulate(assignment, now)
    assignment.status = Assignment.Status.SUBMITTED
    assignment.submitted_at = now
    assignment.save()
    task = Task.objects.select_for_update().select_related("project").get(id=assignment.task_id)
    done = task.assignments.filter(status=Assignment.Status.SUBMITTED).count()
    if task.kind == Task.Kind.GOLD:
        gold_submitted(task=task, user_id=assignment.annotator_id)  # gold tasks stay open for the next annotator
    elif done >= task.project.redundancy_k and task.status in ACTIVE_TASK:
        task.status = Task.Status.COMPLETED
        task.save(update_fields=["status"])
    broadcast([project_group(task.project_id)], "tasks.changed", {"task": task.id, "status": task.status})
    return assignment


@transaction.atomic
def assignment_skip(*, actor, assignment: Assignment) -> Assignment:
    """Skip an open assignment; the task goes to another annotator who never had it."""
    assignment = _lock(assignment)
    if assignment.status not in OPEN_ASSIGNMENT:
        raise InvalidTransition(f"Cannot skip an assignment that is {assignment.status}.")
    _accumulate(assignment, timezone.now())
    assignment.status = Assignment.Status.SKIPPED
    assignment.save()
    task_distribute(actor=actor, project=assignment.task.project, task_ids=[assignment.task_id])
    return assignment
