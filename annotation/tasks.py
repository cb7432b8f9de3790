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
