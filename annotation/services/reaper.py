"""Stale-job reaper: a running job whose worker stopped beating (killed, machine lost) is marked failed."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotation.errors import InvalidTransition
from annotation.models import Job, Slide
from annotation.services.jobs import job_fail

logger = logging.getLogger(__name__)


def stale_after_default() -> int:
    """Seconds without a heartbeat after which a running job counts as dead (JOB_STALE_MINUTES, default 60)."""
    return int(getattr(settings, "JOB_STALE_MINUTES", 60)) * 60


def stale_jobs(*, stale_after_s: int) -> list[Job]:
    """Running jobs whose last heartbeat (or start) is older than `stale_after_s` seconds."""
    cutoff = timezone.now() - timedelta(seconds=stale_after_s)
    beat_old = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    return list(Job.objects.filter(beat_old, status=Job.Status.RUNNING).order_by("started_at"))


def _reason(job: Job, stale_after_s: int) -> str:
    seen = job.heartbeat_at.isoformat() if job.heartbeat_at else "never"
    return (f"The worker running this job stopped responding (no heartbeat for more than {stale_after_s} s; "
            f"last heartbeat {seen}, worker {job.worker or 'unknown'}). The job was marked failed; run it again.")


@transaction.atomic
def _reap_one(job: Job, stale_after_s: int) -> Job | None:
    locked = Job.objects.select_for_update().filter(id=job.id, status=Job.Status.RUNNING).first()
    if locked is None or (locked.heartbeat_at and locked.heartbeat_at != job.heartbeat_at):
        return None  # finished or beat again since we looked
    reason = _reason(locked, stale_after_s)
    if locked.kind == Job.Kind.INGEST and locked.target.get("slide_id"):
        Slide.objects.filter(id=locked.target["slide_id"], status=Slide.Status.PENDING).update(
            status=Slide.Status.FAILED, status_reason=reason[:2000])
    try:
        return job_fail(job_id=str(locked.id), error=reason, result={"reaped": True})
    except InvalidTransition:
        return None


def jobs_reap(*, stale_after_s: int | None = None) -> list[Job]:
    """Mark every stale running job failed (an ingesting slide fails with it); returns the reaped jobs."""
    limit = stale_after_s if stale_after_s is not None else stale_after_default()
    reaped = [j for j in (_reap_one(job, limit) for job in stale_jobs(stale_after_s=limit)) if j]
    for job in reaped:
        logger.warning("reaped stale %s job %s (worker %s)", job.kind, job.id, job.worker)
    return reaped
