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
    from annotation.services.jobs import job_heartbeat
    from mlbackend.pipelines.registration import registration_run

    with job_heartbeat(job_id):
        registration_run(job_id=job_id)


@shared_task(name="mlbackend.train", time_limit=12 * 3600, soft_time_limit=12 * 3600 - 60, acks_late=True)
def train_model(job_id: str) -> None:
    """Train a model version (queue gpu; CPU where no GPU exists)."""
    from annotation.services.jobs import job_heartbeat
    from mlbackend.pipelines.training import training_run

    with job_heartbeat(job_id):
        training_run(job_id=job_id)


@shared_task(name="mlbackend.infer", time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60, acks_late=True)
def infer_tasks(job_id: str) -> None:
    """Write pre-annotations of a model version on open tasks (queue gpu)."""
    from annotation.services.jobs import job_heartbeat
    from mlbackend.pipelines.inference import preannotate_run

    with job_heartbeat(job_id):
        preannotate_run(job_id=job_id)


@shared_task(name="mlbackend.consensus", time_limit=3600, soft_time_limit=3540, acks_late=True)
def rebuild_consensus(job_id: str) -> None:
    """Rebuild consensus, review queue, annotator quality and task priorities of a project."""
    from annotation.services.jobs import job_heartbeat
    from mlbackend.pipelines.consensus import consensus_run

    with job_heartbeat(job_id):
        consensus_run(job_id=job_id)


@shared_task(name="mlbackend.gold_score", time_limit=300)
def gold_score(task_id: int, user_id: int) -> None:
    """Score a submitted gold task (onboarding and continuous quality)."""
    from mlbackend.pipelines.gold import gold_score_run

    gold_score_run(task_id=task_id, user_id=user_id)


@shared_task(name="mlbackend.consensus_check", time_limit=120)
def consensus_check() -> dict:
    """Periodic: rebuild consensus where labels changed since the last rebuild."""
    from mlbackend.services import consensus_check_run

    return consensus_check_run()


@shared_task(name="mlbackend.reap_stale_jobs", time_limit=120)
def reap_stale_jobs() -> dict:
    """Periodic: running jobs whose worker stopped beating are marked failed (and their training versions)."""
    from mlbackend.services_reaper import stale_jobs_reap_all

    return stale_jobs_reap_all()
