"""Caches of rendered tiles keyed by content (never by token): in-process LRU or Redis."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Protocol

logger = logging.getLogger(__name__)


class TileCache(Protocol):
    """Async bytes cache; a failing backend must behave as a miss, never fail the request."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes) -> None: ...

    async def close(self) -> None: ...


class MemoryTileCache:
    """LRU bounded by total bytes; used from one event loop, so no lock is needed."""

    def __init__(self, max_bytes: int = 256 << 20) -> None:
        self.max_bytes = max_bytes
        self.size_bytes = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def get(self, key: str) -> bytes | None:
        value = self._items.get(key)
        if value is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return value

    async def set(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.size_bytes -= len(old)
        self._items[key] = value
        self.size_bytes += len(value)
        while self.size_bytes > self.max_bytes:
            _, evicted = self._items.popitem(last=False)
            self.size_bytes -= len(evicted)

    async def close(self) -> None:
        self._items.clear()
        self.size_bytes = 0


class RedisTileCache:
    """Tiles in Redis (shared by all tile-server processes) with a TTL; errors are logged and ignored."""

    def __init__(self, url: str, ttl_s: int = 7 * 86400, prefix: str = "laypath:tile:") -> None:
        import redis.asyncio as redis_asyncio

        self._redis = redis_asyncio.from_url(url)
        self.ttl_s = ttl_s
        self.prefix = prefix

    async def get(self, key: str) -> bytes | None:
        try:
            return await self._redis.get(self.prefix + key)
        except Exception:  # cache outage = miss
            logger.warning("redis tile cache get failed", exc_info=True)
            return None

    async def set(self, key: str, value: bytes) -> None:
        try:
            await self._redis.set(self.prefix + key, value, ex=self.ttl_s)
        except Exception:
            logger.warning("redis tile cache set failed", exc_info=True)

    async def close(self) -> None:
        await self._redis.aclose()


def make_cache(url: str | None, memory_bytes: int = 256 << 20, ttl_s: int = 7 * 86400) -> TileCache:
    """Redis cache for a ``redis://`` / ``rediss://`` / ``unix://`` URL, else an in-process LRU."""
    if url:
        return RedisTileCache(url, ttl_s=ttl_s)
    return MemoryTileCache(memory_bytes)
