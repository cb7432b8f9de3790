"""The Celery app: queues `default` (ingest, registration, consensus) and `gpu` (training, inference)."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("laypath")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_queues=(Queue("default"), Queue("gpu")),
    task_default_queue="default",
    task_routes={"mlbackend.train": {"queue": "gpu"}, "mlbackend.infer": {"queue": "gpu"}},
    task_acks_late=True,
    task_reject_on_worker_lost=False,
    worker_prefetch_multiplier=1,
    task_time_limit=6 * 3600,
    task_soft_time_limit=6 * 3600 - 60,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    beat_schedule={
        "retrain-check": {
            "task": "mlbackend.retrain_check",
            "schedule": 60.0 * float(os.environ.get("RETRAIN_CHECK_MINUTES", "30")),
            "options": {"queue": "default", "expires": 300},
        },
        "consensus-check": {
            "task": "mlbackend.consensus_check",
            "schedule": 60.0 * float(os.environ.get("CONSENSUS_CHECK_MINUTES", "10")),
            "options": {"queue": "default", "expires": 300},
        },
        "uploads-prune": {
            "task": "annotation.prune_uploads",
            "schedule": 3600.0,
            "options": {"queue": "default", "expires": 600},
        },
        "stale-job-reaper": {
            "task": "mlbackend.reap_stale_jobs",
            "schedule": 60.0 * float(os.environ.get("REAPER_CHECK_MINUTES", "5")),
            "options": {"queue": "default", "expires": 240},
        },
        "worker-heartbeat-prune": {
            "task": "laypath.prune_heartbeats",
            "schedule": 600.0,
            "options": {"queue": "default", "expires": 300},
        },
    },
)
app.autodiscover_tasks()
