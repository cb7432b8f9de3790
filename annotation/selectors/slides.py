"""Slide, pair and job visibility: members of a slide's project see it; everyone else gets a 404."""

from __future__ import annotations

from django.db.models import QuerySet

from annotation.errors import NotFound, PermissionDenied
from annotation.models import Job, Slide, SlidePair
from annotation.selectors.projects import project_get_for_user, project_list_for_user, user_role


def _check_role(*, user, project_id: int, roles: tuple[str, ...] | None) -> None:
    if roles is None:
        return
    role = user_role(user=user, project_id=project_id)
    if role != "admin" and role not in roles:
        raise PermissionDenied("Your role in this project does not allow this.")


def slide_list_for_user(*, user, project_id: int) -> QuerySet[Slide]:
    """Slides of a project the user can see (404 for a project they cannot)."""
    project = project_get_for_user(user=user, project_id=project_id)
    return Slide.objects.filter(project=project).order_by("id")


def slide_get_for_user(*, user, slide_id: int, roles: tuple[str, ...] | None = None) -> Slide:
    """A slide of a project the user can see (404 otherwise); with `roles`, 403 unless the user has one."""
    slide = Slide.objects.filter(id=slide_id, project__in=project_list_for_user(user=user)).first()
    if slide is None:
        raise NotFound("Slide not found.")
    _check_role(user=user, project_id=slide.project_id, roles=roles)
    return slide


def pair_list_for_user(*, user, project_id: int) -> QuerySet[SlidePair]:
    project = project_get_for_user(user=user, project_id=project_id)
    related = ("anatomical", "molecular", "current_registration")
    return SlidePair.objects.filter(project=project).select_related(*related).order_by("id")


def pair_get_for_user(*, user, pair_id: int, roles: tuple[str, ...] | None = None) -> SlidePair:
    """A pair (with its slides and current registration) the user can see; 404 otherwise, 403 for a wrong role."""
    pair = (
        SlidePair.objects.filter(id=pair_id, project__in=project_list_for_user(user=user))
        .select_related("anatomical", "molecular", "current_registration", "project")
        .first()
    )
    if pair is None:
        raise NotFound("Slide pair not found.")
    _check_role(user=user, project_id=pair.project_id, roles=roles)
    return pair


def job_list_for_user(*, user, project_id: int | None = None) -> QuerySet[Job]:
    """Jobs of the projects the user belongs to (staff: all jobs, including those of no project)."""
    jobs = Job.objects.all() if user.is_staff else Job.objects.filter(project__in=project_list_for_user(user=user))
    if project_id is not None:
        project_get_for_user(user=user, project_id=project_id)
        jobs = jobs.filter(project_id=project_id)
    return jobs.order_by("-created_at")


def job_get_for_user(*, user, job_id: str) -> Job:
    job = job_list_for_user(user=user).filter(id=job_id).first()
    if job is None:
        raise NotFound("Job not found.")
    return job
