"""Project visibility: every queryset a view uses starts here, with the user."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from annotation.errors import NotFound, PermissionDenied
from annotation.models import LabelClass, Membership, Project, Role


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


@dataclass(frozen=True)
class Access:
    """A project the user can see and the user's role in it ('admin' for staff)."""

    project: Project
    role: str

    @property
    def is_manager(self) -> bool:
        return self.role in ("admin", Role.MANAGER.value)

    @property
    def is_reviewer(self) -> bool:
        return self.role in ("admin", Role.MANAGER.value, Role.REVIEWER.value)

    def require(self, roles: tuple[str, ...]) -> None:
        """Raise PermissionDenied unless the role is admin or one of `roles`."""
        if self.role != "admin" and self.role not in roles:
            raise PermissionDenied("Your role in this project does not allow this.")


def project_access(*, user, project_id: int | None, roles: tuple[str, ...] | None = None) -> Access:
    """The user's access to a project: 404 when it is not visible, 403 when the role is not enough."""
    if project_id is None or not user.is_authenticated:
        raise NotFound("Project not found.")
    role = user_role(user=user, project_id=project_id)
    project = Project.objects.filter(id=project_id).first() if role else None
    if project is None:
        raise NotFound("Project not found.")
    access = Access(project=project, role=role)
    if roles is not None:
        access.require(roles)
    return access


def membership_list_for_user(*, user, project_id: int | None = None) -> QuerySet[Membership]:
    """Memberships the user may see: all of projects they manage or review (staff: all), else their own."""
    if not user.is_authenticated:
        return Membership.objects.none()
    qs = Membership.objects.select_related("user")
    if not user.is_staff:
        overseen = Membership.objects.filter(user=user, role__in=[Role.MANAGER, Role.REVIEWER]).values("project_id")
        qs = qs.filter(Q(project_id__in=overseen) | Q(user=user))
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    return qs.order_by("project_id", "id")


def label_class_list_for_user(*, user, project_id: int | None = None) -> QuerySet[LabelClass]:
    """Label classes of projects the user can see (optionally one project)."""
    qs = LabelClass.objects.filter(project__in=project_list_for_user(user=user))
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    return qs.order_by("project_id", "order", "id")
