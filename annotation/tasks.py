"""Celery tasks of the annotation app: short, named, ids as arguments; the Job row records outcomes."""

from __future__ import annotations

import logging
import os
import socket

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(name="laypath.ping", time_limit=30)
def ping(value: str) -> dict:
    """Echo back, with the worker's identity (used by health checks and tests)."""
    return {"echo": value, "host": socket.gethostname(), "pid": os.getpid(), "at": timezone.now().isoformat()}


@shared_task(name="laypath.prune_heartbeats", time_limit=60)
def prune_heartbeats() -> int:
    from annotation.services.system import heartbeat_prune

    return heartbeat_prune()


@shared_task(name="annotation.ingest_slide", time_limit=3600, soft_time_limit=3540, acks_late=True)
def ingest_slide(job_id: str) -> None:
    """Ingest one slide (its Job row records progress and outcome; a finished job is left alone)."""
    from annotation.services.jobs import job_heartbeat
    from annotation.services.slides import slide_ingest

    with job_heartbeat(job_id):
        slide_ingest(job_id=job_id)


@shared_task(name="annotation.prune_uploads", time_limit=300)
def prune_uploads(older_than_s: int = 7 * 86400) -> int:
    """Delete browser uploads abandoned for a week (schedule it daily with beat)."""
    from annotation.services.uploads import upload_prune

    return upload_prune(older_than_s=older_than_s)
