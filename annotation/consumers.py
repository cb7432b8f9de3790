"""Websocket endpoint: authenticated users receive events for themselves and projects they belong to."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from annotation.events import STAFF_GROUP, project_group, user_group


@database_sync_to_async
def _project_ids(user) -> list[int]:
    from annotation.selectors.projects import project_ids_for_user

    return project_ids_for_user(user=user)


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/events/`: rejects anonymous users; `{"subscribe": project_id}` joins a project's group."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined: set[str] = set()
        await self.accept()
        await self._join(user_group(user.id))
        if user.is_staff:
            await self._join(STAFF_GROUP)
        await self.send_json({"event": "hello", "data": {"user": user.username}})

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.add(group)

    async def receive_json(self, content, **kwargs) -> None:
        if "subscribe" in content:
            try:
                project_id = int(content["subscribe"])
            except (TypeError, ValueError):
                await self.send_json({"event": "error", "data": {"code": "invalid", "detail": "bad project id"}})
                return
            allowed = project_id in await _project_ids(self.scope["user"])
            if not allowed:
                # same answer as for a project that does not exist
                await self.send_json({"event": "error", "data": {"code": "not_found", "detail": "Not found."}})
                return
            await self._join(project_group(project_id))
            await self.send_json({"event": "subscribed", "data": {"project": project_id}})
        elif content.get("ping"):
            await self.send_json({"event": "pong", "data": {}})

    async def event_message(self, message: dict) -> None:
        await self.send_json({"event": message["event"], "data": message["data"]})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", set()):
            await self.channel_layer.group_discard(group, self.channel_name)
