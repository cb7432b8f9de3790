"""Project, label class and membership writes; each leaves an audit row for changes that matter."""

from __future__ import annotations

import logging
import re

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from annotation.errors import InvalidInput, InvalidTransition, NotFound
from annotation.events import broadcast, project_group
from annotation.models import (
    Annotation,
    Assignment,
    AuditEvent,
    LabelClass,
    Membership,
    Project,
    Role,
    SlidePair,
)

logger = logging.getLogger(__name__)
PROJECT_FIELDS = (
    "name",
    "description",
    "instructions",
    "redundancy_k",
    "blind_mode",
    "gold_rate",
    "qualification_tasks",
    "qualification_min_score",
)
CLASS_FIELDS = ("name", "color", "hotkey", "order", "marker_hint", "marker_channel")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _audit(*, actor, project: Project | None, action: str, target: str = "", detail: dict | None = None) -> None:
    AuditEvent.objects.create(actor=actor, project=project, action=action, target=target, detail=detail or {})


def _check_project_values(values: dict) -> None:
    if "name" in values and not str(values["name"]).strip():
        raise InvalidInput("A project needs a name.")
    if "redundancy_k" in values and int(values["redundancy_k"]) < 1:
        raise InvalidInput("redundancy_k must be at least 1.")
    if "gold_rate" in values and not 0 <= float(values["gold_rate"]) <= 1:
        raise InvalidInput("gold_rate must be between 0 and 1.")


@transaction.atomic
def project_create(*, actor, name: str, **values) -> Project:
    """Create a project; the creator becomes its manager (staff creators too, so the project has one)."""
    values = {k: v for k, v in values.items() if k in PROJECT_FIELDS}
    _check_project_values({"name": name, **values})
    project = Project.objects.create(name=name.strip(), created_by=actor, **values)
    Membership.objects.create(project=project, user=actor, role=Role.MANAGER)
    _audit(actor=actor, project=project, action="project.create", target=f"project:{project.id}")
    return project


@transaction.atomic
def project_update(*, actor, project: Project, values: dict) -> Project:
    """Change a project's settings (name, k, blind mode, ...); broadcasts `project.updated`."""
    values = {k: v for k, v in values.items() if k in PROJECT_FIELDS}
    _check_project_values(values)
    for key, value in values.items():
        setattr(project, key, value)
    project.save(update_fields=list(values) or None)
    _audit(actor=actor, project=project, action="project.update", target=f"project:{project.id}", detail={"fields": sorted(values)})
    broadcast([project_group(project.id)], "project.updated", {"project": project.id})
    return project


@transaction.atomic
def project_delete(*, actor, project: Project) -> None:
    """Delete a project and everything in it."""
    project_id = project.id
    _audit(actor=actor, project=None, action="project.delete", target=f"project:{project_id}", detail={"name": project.name})
    try:
        # PROTECT links (annotation -> class, pair -> slide) block a single cascade: delete dependants first
        Annotation.objects.filter(project=project).delete()
        SlidePair.objects.filter(project=project).delete()
        project.delete()
    except ProtectedError as exc:
        raise InvalidTransition("The project still holds objects that cannot be deleted.", code="in_use") from exc


def _check_class_values(values: dict) -> None:
    if "color" in values and not _COLOR.match(str(values["color"])):
        raise InvalidInput("color must look like #rrggbb.")
    if "hotkey" in values and len(str(values["hotkey"])) > 1:
        raise InvalidInput("hotkey is a single character.")
    if "name" in values and not str(values["name"]).strip():
        raise InvalidInput("A class needs a name.")


@transaction.atomic
def label_class_create(*, actor, project: Project, name: str, **values) -> LabelClass:
    """Add a label class to a project (names are unique per project)."""
    values = {k: v for k, v in values.items() if k in CLASS_FIELDS}
    _check_class_values({"name": name, **values})
    try:
        with transaction.atomic():
            label_class = LabelClass.objects.create(project=project, name=name.strip(), **values)
    except IntegrityError as exc:
        raise InvalidInput(f"A class named {name!r} already exists.", code="duplicate") from exc
    _audit(actor=actor, project=project, action="class.create", target=f"class:{label_class.id}")
    broadcast([project_group(project.id)], "classes.changed", {"project": project.id})
    return label_class


@transaction.atomic
def label_class_update(*, actor, label_class: LabelClass, values: dict) -> LabelClass:
    """Change a label class's name, colour, hotkey, order or marker hint."""
    values = {k: v for k, v in values.items() if k in CLASS_FIELDS}
    _check_class_values(values)
    for key, value in values.items():
        setattr(label_class, key, value)
    try:
        with transaction.atomic():
            label_class.save()
    except IntegrityError as exc:
        raise InvalidInput("A class with that name already exists.", code="duplicate") from exc
    _audit(actor=actor, project=label_class.project, action="class.update", target=f"class:{label_class.id}")
    broadcast([project_group(label_class.project_id)], "classes.changed", {"project": label_class.project_id})
    return label_class


@transaction.atomic
def label_class_delete(*, actor, label_class: LabelClass) -> None:
    """Delete a label class that no annotation uses (409 `in_use` otherwise)."""
    project = label_class.project
    target = f"class:{label_class.id}"
    try:
        with transaction.atomic():
            label_class.delete()
    except ProtectedError as exc:
        raise InvalidTransition("Annotations use this class; rename it instead.", code="in_use") from exc
    _audit(actor=actor, project=project, action="class.delete", target=target)
    broadcast([project_group(project.id)], "classes.changed", {"project": project.id})


def _resolve_user(*, user_id: int | None, username: str | None):
    User = get_user_model()
    query = User.objects.filter(id=user_id) if user_id else User.objects.filter(username=username or "")
    found = query.first()
    if found is None:
        raise NotFound("No such user.")
    return found


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise InvalidInput(f"role must be one of {', '.join(Role.values)}.")


@transaction.atomic
def membership_add(
    *, actor, project: Project, role: str, user_id: int | None = None, username: str | None = None
) -> Membership:
    """Add a user to a project with a role (409 `duplicate` if already a member)."""
    _check_role(role)
    user = _resolve_user(user_id=user_id, username=username)
    if Membership.objects.filter(project=project, user=user).exists():
        raise InvalidTransition("The user is already a member; change the role instead.", code="duplicate")
    membership = Membership.objects.create(project=project, user=user, role=role)
    _audit(actor=actor, project=project, action="membership.add", target=f"user:{user.id}", detail={"role": role})
    return membership


def _ensure_other_manager(membership: Membership) -> None:
    others = Membership.objects.filter(project_id=membership.project_id, role=Role.MANAGER).exclude(id=membership.id)
    if membership.role == Role.MANAGER and not others.exists():
        raise InvalidTransition("A project keeps at least one manager.", code="last_manager")


@transaction.atomic
def membership_change_role(*, actor, membership: Membership, role: str) -> Membership:
    """Change a member's role (a project keeps at least one manager)."""
    _check_role(role)
    membership = Membership.objects.select_for_update().get(id=membership.id)
    if role != Role.MANAGER:
        _ensure_other_manager(membership)
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    _audit(
        actor=actor,
        project=membership.project,
        action="membership.role",
        target=f"user:{membership.user_id}",
        detail={"before": before, "after": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, actor, membership: Membership) -> None:
    """Remove a member (their annotations stay; their open assignments are withdrawn)."""
    membership = Membership.objects.select_for_update().get(id=membership.id)
    _ensure_other_manager(membership)
    Assignment.objects.filter(
        task__project_id=membership.project_id,
        annotator_id=membership.user_id,
        status__in=[Assignment.Status.ASSIGNED, Assignment.Status.IN_PROGRESS],
    ).delete()
    _audit(actor=actor, project=membership.project, action="membership.remove", target=f"user:{membership.user_id}")
    membership.delete()
