"""Mount the Django-free tile server in front of Django's HTTP app (tiles skip the request cycle)."""

from __future__ import annotations

import logging

from django.conf import settings

logger = logging.getLogger(__name__)


def http_with_tiles(django_app):
    """Route `TILE_URL_PREFIX/...` to the imaging tile app when it is available, the rest to Django."""
    try:
        from annotation.imaging.tileserver import TileServerConfig, make_tile_app
    except ImportError:  # imaging layer not built yet
        logger.warning("tile server unavailable; tiles are not served")
        return django_app
    from annotation.imaging.tilecache import make_cache
    from config.metrics import CountingTileCache

    prefix = settings.TILE_URL_PREFIX.rstrip("/")
    config = TileServerConfig(
        secret=settings.SECRET_KEY,
        slide_root=str(settings.SLIDE_ROOT),
        cache_url=settings.TILE_CACHE_URL or None,
        prefix=prefix,
    )
    cache = CountingTileCache(make_cache(config.cache_url, config.memory_cache_bytes, config.cache_ttl_s))
    tile_app = make_tile_app(config, cache)

    async def app(scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(prefix + "/"):
            await tile_app(scope, receive, send)
            return
        await django_app(scope, receive, send)

    return app
