"""The one helper that broadcasts `noun.verb` events to websocket groups, after the transaction commits."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def project_group(project_id: int) -> str:
    return f"project.{project_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


STAFF_GROUP = "staff"


_server_loop: asyncio.AbstractEventLoop | None = None


def remember_server_loop() -> None:
    """Called on the ASGI server's event loop: later pushes from request threads are handed to it, not awaited."""
    global _server_loop
    _server_loop = asyncio.get_running_loop()


async def _send(layer, groups: list[str], event: str, payload: dict) -> None:
    for group in groups:
        try:
            await layer.group_send(group, {"type": "event.message", "event": event, "data": payload})
        except Exception:  # a push is best-effort: the REST API stays the truth
            logger.warning("broadcast of %s to %s failed", event, group, exc_info=True)


def _handed_over(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("broadcast failed", exc_info=future.exception())


def broadcast(groups: list[str], event: str, payload: dict) -> None:
    """Send `{"event": event, "data": payload}` to the groups once the current transaction commits.

    In the web server the push is queued on the server's event loop and the request goes on (waiting for a busy
    loop held a save's worker thread ~6 ms, more under load); elsewhere (Celery, commands) it is sent at once.
    Pushes from one process keep their order either way.
    """

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            running = asyncio.get_running_loop()  # called on an event loop's own thread
        except RuntimeError:
            running = None
        if running is not None:
            running.create_task(_send(layer, groups, event, payload))
            return
        loop = _server_loop
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(_send(layer, groups, event, payload), loop).add_done_callback(_handed_over)
            return
        async_to_sync(_send)(layer, groups, event, payload)

    transaction.on_commit(send)
