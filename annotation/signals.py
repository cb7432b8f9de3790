"""Worker start hook: every Celery worker writes a heartbeat row /healthz reads."""

from __future__ import annotations

from celery.signals import task_postrun, task_prerun, worker_ready


@worker_ready.connect
def _start_heartbeat(sender=None, **kwargs) -> None:
    from annotation.services.system import heartbeat_thread_start

    try:
        queues = sorted(sender.app.amqp.queues.consume_from.keys())
    except Exception:
        queues = []
    hostname = getattr(sender, "hostname", None) or "worker"
    heartbeat_thread_start(hostname=hostname, queues=queues)


@task_prerun.connect
def _tag_job_logs(task_id=None, task=None, args=None, **kwargs) -> None:
    """Log lines of a task carry its job id (the first argument of job tasks)."""
    from config.logs import job_id_var

    job_id_var.set(str(args[0]) if args else task_id)


@task_postrun.connect
def _untag_job_logs(**kwargs) -> None:
    from config.logs import job_id_var

    job_id_var.set(None)
