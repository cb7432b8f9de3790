"""Listening on the real channel layer in tests: a fresh channel joined to a group."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def listen(group: str) -> str:
    """A new channel on the configured layer, added to `group`; read it with the layer's receive."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel
