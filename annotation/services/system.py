"""Worker heartbeats and health: what /healthz reports."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from annotation.models import WorkerHeartbeat

logger = logging.getLogger(__name__)
HEARTBEAT_S = 10


def heartbeat_write(*, hostname: str, queues: list[str]) -> None:
    """Record that a worker is alive."""
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"queues": queues, "pid": os.getpid(), "seen_at": timezone.now()}
    )


def heartbeat_prune(*, older_than_s: int = 3600) -> int:
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    return WorkerHeartbeat.objects.filter(seen_at__lt=cutoff).delete()[0]


def heartbeat_thread_start(*, hostname: str, queues: list[str]) -> threading.Thread:
    """Start a daemon thread in a worker that writes its heartbeat every few seconds."""

    def loop() -> None:
        while True:
            try:
                heartbeat_write(hostname=hostname, queues=queues)
            except Exception:
                logger.warning("heartbeat failed", exc_info=True)
                connections.close_all()
            time.sleep(HEARTBEAT_S)

    thread = threading.Thread(target=loop, name="laypath-heartbeat", daemon=True)
    thread.start()
    return thread


def _check_db() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True, "engine": connection.vendor}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}


def _check_broker() -> dict:
    url = settings.CELERY_BROKER_URL
    if url.startswith("redis"):
        import redis

        try:
            redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping()
            return {"ok": True, "transport": "redis"}
        except Exception as exc:
            return {"ok": False, "transport": "redis", "error": type(exc).__name__}
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", "")
    return {"ok": bool(folder) and os.path.isdir(folder), "transport": url.split(":")[0]}


def _check_workers() -> dict:
    try:
        cutoff = timezone.now() - timedelta(seconds=3 * HEARTBEAT_S)
        alive = list(WorkerHeartbeat.objects.filter(seen_at__gte=cutoff).values("hostname", "queues", "seen_at"))
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__, "workers": []}
    queues = sorted({q for w in alive for q in w["queues"]})
    return {"ok": bool(alive), "count": len(alive), "queues": queues, "workers": [w["hostname"] for w in alive]}


def health_report() -> dict:
    """State of the database, the broker and the workers."""
    db = _check_db()
    broker = _check_broker()
    workers = _check_workers() if db["ok"] else {"ok": False, "error": "database unavailable"}
    return {
        "status": "ok" if db["ok"] and broker["ok"] and workers["ok"] else "degraded",
        "database": db,
        "broker": broker,
        "workers": workers,
        "host": socket.gethostname(),
    }
