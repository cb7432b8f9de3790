"""Worker start hook: every Celery worker writes a heartbeat row /healthz reads."""

from __future__ import annotations

from celery.signals import worker_ready


@worker_ready.connect
def _start_heartbeat(sender=None, **kwargs) -> None:
    from annotation.services.system import heartbeat_thread_start

    try:
        queues = sorted(sender.app.amqp.queues.consume_from.keys())
    except Exception:
        queues = []
    hostname = getattr(sender, "hostname", None) or "worker"
    heartbeat_thread_start(hostname=hostname, queues=queues)
