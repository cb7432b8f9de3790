"""The one helper that broadcasts `noun.verb` events to websocket groups, after the transaction commits."""

from __future__ import annotations

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


def broadcast(groups: list[str], event: str, payload: dict) -> None:
    """Send `{"event": event, "data": payload}` to the groups once the current transaction commits."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        for group in groups:
            try:
                async_to_sync(layer.group_send)(group, {"type": "event.message", "event": event, "data": payload})
            except Exception:  # a push is best-effort: the REST API stays the truth
                logger.warning("broadcast of %s to %s failed", event, group, exc_info=True)

    transaction.on_commit(send)
