"""Celery tasks of the ML backend (thin: load ids, call one pipeline, record the outcome)."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="mlbackend.retrain_check", time_limit=120)
def retrain_check() -> dict:
    """Periodic check whether enough new accepted labels arrived to retrain."""
    from mlbackend.services import retrain_check_run

    return retrain_check_run()


@shared_task(name="mlbackend.register_pair", time_limit=2 * 3600, soft_time_limit=2 * 3600 - 60, acks_late=True)
def register_pair(job_id: str) -> None:
    """Register a slide pair (its Job row records progress and outcome; a finished job is left alone)."""
    from mlbackend.pipelines.registration import registration_run

    registration_run(job_id=job_id)
