"""Job services: the single place a Job's status changes; each change is pushed after commit."""

from __future__ import annotations

import logging
import os
import socket
import threading

from django.db import transaction
from django.utils import timezone

from annotation.errors import InvalidTransition
from annotation.events import STAFF_GROUP, broadcast, project_group
from annotation.models import Job

logger = logging.getLogger(__name__)

FINISHED = (Job.Status.SUCCEEDED, Job.Status.FAILED, Job.Status.CANCELLED)
ACTIVE = (Job.Status.QUEUED, Job.Status.RUNNING)


def job_payload(job: Job) -> dict:
    """The JSON shape of a job in pushes and in the jobs API."""
    return {
        "id": str(job.id),
        "kind": job.kind,
        "status": job.status,
        "project": job.project_id,
        "target": job.target,
        "progress": round(float(job.progress), 4),
        "message": job.message,
        "error": job.error,
        "result": job.result,
        "attempts": job.attempts,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def _push(job: Job, event: str) -> None:
    groups = [STAFF_GROUP] + ([project_group(job.project_id)] if job.project_id else [])
    broadcast(groups, event, job_payload(job))


def job_create(*, kind: str, project_id: int | None, target: dict, created_by=None, message: str = "") -> Job:
    """Create a queued job row (the caller enqueues its task on commit)."""
    job = Job.objects.create(
        kind=kind, project_id=project_id, target=target, created_by=created_by, message=message or "queued"
    )
    _push(job, "job.progress")
    return job


@transaction.atomic
def job_start(*, job_id: str) -> Job | None:
    """Mark a job running (a redelivered running job restarts); None if it already finished."""
    job = Job.objects.select_for_update().filter(id=job_id).first()
    if job is None:
        logger.warning("job %s does not exist", job_id)
        return None
    if job.status in FINISHED:
        logger.info("job %s already %s; nothing to do", job_id, job.status)
        return None
    now = timezone.now()
    job.status = Job.Status.RUNNING
    job.started_at = job.started_at or now
    job.heartbeat_at = now
    job.attempts += 1
    job.progress = 0.0
    job.worker = f"{socket.gethostname()}:{os.getpid()}"
    job.message = "started"
    job.save(update_fields=["status", "started_at", "heartbeat_at", "attempts", "progress", "worker", "message"])
    _push(job, "job.progress")
    return job


def job_progress(*, job_id: str, progress: float, message: str = "") -> None:
    """Record progress (0..1) of a running job and push it; ignored once the job finished."""
    progress = min(1.0, max(0.0, float(progress)))
    now = timezone.now()
    updated = Job.objects.filter(id=job_id, status=Job.Status.RUNNING).update(
        progress=progress, message=message[:500], heartbeat_at=now
    )
    if updated:
        job = Job.objects.get(id=job_id)
        _push(job, "job.progress")


@transaction.atomic
def _finish(*, job_id: str, status: str, error: str = "", result: dict | None = None) -> Job:
    job = Job.objects.select_for_update().get(id=job_id)
    if job.status in FINISHED:
        raise InvalidTransition(f"Job already {job.status}.")
    job.status = status
    job.error = error
    job.result = result or {}
    job.progress = 1.0 if status == Job.Status.SUCCEEDED else job.progress
    job.message = status
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "result", "progress", "message", "finished_at"])
    _push(job, "job.finished")
    return job


def job_succeed(*, job_id: str, result: dict | None = None) -> Job:
    """Mark a job succeeded with its result and push `job.finished`."""
    return _finish(job_id=job_id, status=Job.Status.SUCCEEDED, result=result)


def job_fail(*, job_id: str, error: str, result: dict | None = None) -> Job:
    """Mark a job failed with a readable error and push `job.finished`."""
    logger.info("job %s failed: %s", job_id, error)
    return _finish(job_id=job_id, status=Job.Status.FAILED, error=error[:5000], result=result)


def job_cancel(*, job_id: str, reason: str = "cancelled") -> Job:
    """Cancel a queued or running job (its task sees a finished job and does nothing)."""
    return _finish(job_id=job_id, status=Job.Status.CANCELLED, error=reason)


class job_heartbeat:  # noqa: N801 - used as a context manager, reads like a statement
    """Keep a running job's `heartbeat_at` fresh from a daemon thread while the task's process lives.

    The reaper decides a job is dead when its heartbeat is older than JOB_STALE_MINUTES; progress updates
    alone leave long silent stretches (one slow training epoch, one big registration block pass). The thread
    beats every `every_s` seconds and stops when the block exits; a SIGKILLed worker takes the thread with it,
    so a dead job still goes stale. A failing beat (database away) is logged and retried, never raised.
    """

    def __init__(self, job_id: str, every_s: float | None = None):
        from django.conf import settings

        self.job_id = str(job_id)
        self.every_s = float(every_s if every_s is not None else getattr(settings, "JOB_HEARTBEAT_S", 30))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.beats = 0

    def _beat_loop(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(self.every_s):
                try:
                    self.beats += Job.objects.filter(id=self.job_id, status=Job.Status.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # noqa: BLE001 - a heartbeat must never take the job down
                    logger.warning("heartbeat of job %s failed; retrying", self.job_id, exc_info=True)
                    connection.close()
        finally:
            connection.close()

    def __enter__(self) -> job_heartbeat:
        self._thread = threading.Thread(target=self._beat_loop, name=f"job-heartbeat-{self.job_id}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
