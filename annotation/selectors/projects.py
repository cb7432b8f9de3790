"""Project visibility: every queryset a view uses starts here, with the user."""

from __future__ import annotations

from django.db.models import QuerySet

from annotation.errors import NotFound, PermissionDenied
from annotation.models import Membership, Project, Role


def project_list_for_user(*, user) -> QuerySet[Project]:
    """Projects the user may see: all for staff, else those with a membership."""
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_staff:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user).distinct()


def project_ids_for_user(*, user) -> list[int]:
    return list(project_list_for_user(user=user).values_list("id", flat=True))


def user_role(*, user, project_id: int) -> str | None:
    """The user's role in the project ('admin' for staff), or None."""
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return "admin"
    return Membership.objects.filter(project_id=project_id, user=user).values_list("role", flat=True).first()


def project_get_for_user(*, user, project_id: int, roles: tuple[str, ...] | None = None) -> Project:
    """Fetch a project the user can see (404 otherwise); with `roles`, require one of them (403)."""
    project = project_list_for_user(user=user).filter(id=project_id).first()
    if project is None:
        raise NotFound("Project not found.")
    if roles is not None:
        role = user_role(user=user, project_id=project_id)
        if role != "admin" and role not in roles:
            raise PermissionDenied("Your role in this project does not allow this.")
    return project


MANAGERS = (Role.MANAGER.value,)
REVIEWERS = (Role.MANAGER.value, Role.REVIEWER.value)
MEMBERS = (Role.MANAGER.value, Role.REVIEWER.value, Role.ANNOTATOR.value)
