"""The lean tile server: a bare ASGI app (no Django, no database) serving DZI descriptors and tiles.

Routes (what OpenSeadragon's DZI tile source requests; query parameters of the .dzi URL are carried
over to tile URLs by OpenSeadragon):

    GET {prefix}/{token}/slide.dzi[?r=<RenderSettings>][&f=png]
    GET {prefix}/{token}/slide_files/{level}/{col}_{row}.{jpeg|jpg|png}[?r=<RenderSettings>]

``token`` comes from ``tokens.sign_tile_token``. 403 bad/expired token, 404 anything not found
(including paths outside the slide root), 400 malformed render settings, 500 render failure.
Tiles carry strong ETags (content hash of slide checksums, transform version, level, col, row,
format and settings) and ``Cache-Control: private, max-age=..., immutable``; ``If-None-Match`` -> 304.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import anyio
import anyio.to_thread
import cv2

from annotation.imaging.chunkstore import RenderedChunkCache, default_shared_dir
from annotation.imaging.deepzoom import DeepZoomGeometry, geometry_for
from annotation.imaging.errors import RenderSettingsError, SlideReadError, TileNotFound, TokenError
from annotation.imaging.overlay import render_overlay_tile
from annotation.imaging.render import RenderSettings
from annotation.imaging.slidepool import ReaderPool, SlideNotFound, resolve_under
from annotation.imaging.tilecache import TileCache, make_cache
from annotation.imaging.tiles import FORMATS, EncodedTile, render_tile
from annotation.imaging.tokens import TileSpec, verify_tile_token

logger = logging.getLogger(__name__)

_TILE_RE = re.compile(r"slide_files/(\d{1,2})/(\d{1,7})_(\d{1,7})\.(jpeg|jpg|png)")
Scope = dict[str, Any]


@dataclass(frozen=True)
class TileServerConfig:
    """Settings of the tile app; ``cache_url`` None = in-process LRU, else a Redis URL."""

    secret: str | bytes
    slide_root: str
    cache_url: str | None = None
    prefix: str = "/tiles"
    memory_cache_bytes: int = 256 << 20
    cache_ttl_s: int = 7 * 86400
    max_age_s: int = 86400
    reader_cache_size: int = 16
    render_threads: int = 4
    jpeg_quality: int = 75
    verify_checksums: bool = True
    decode_cache_bytes: int = 64 << 20  # per open tifffile-read slide
    opencv_threads: int | None = 1  # tiles already run in parallel threads; None leaves OpenCV's default
    rendered_chunk_bytes: int = 96 << 20  # composited IF chunks for overlay tiles, per process
    shared_chunk_dir: str | None = "auto"  # RAM directory shared by the processes ("auto": /dev/shm); None = off
    shared_chunk_bytes: int = 256 << 20


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    etag: str | None = None


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class TileApp:
    """ASGI callable; build it with ``make_tile_app(config)``."""

    def __init__(self, config: TileServerConfig, cache: TileCache | None = None) -> None:
        self.config = config
        self.prefix = config.prefix.rstrip("/")
        self.cache = cache or make_cache(config.cache_url, config.memory_cache_bytes, config.cache_ttl_s)
        self.readers = ReaderPool(config.reader_cache_size, config.verify_checksums, config.decode_cache_bytes)
        shared = default_shared_dir() if config.shared_chunk_dir == "auto" else config.shared_chunk_dir
        self.chunks = RenderedChunkCache(config.rendered_chunk_bytes, shared, config.shared_chunk_bytes)
        self._limiter: anyio.CapacityLimiter | None = None
        self._inflight: dict[str, asyncio.Future[EncodedTile]] = {}  # tile key -> render task
        self._geometries: dict[tuple, DeepZoomGeometry] = {}
        self.renders = 0  # tiles rendered (not served from cache), for tests and metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] not in ("GET", "HEAD"):
            await self._send(send, scope, _Response(405, b"method not allowed"), {})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            response = await self._handle(scope, headers)
        except _HttpError as exc:
            response = _Response(exc.status, str(exc).encode())
        except Exception:  # never a traceback to the client
            logger.exception("tile request failed: %s", scope.get("path", "")[:200])
            response = _Response(500, b"internal error")
        await self._send(send, scope, response, headers)

    async def close(self) -> None:
        """Close the cache connection and the open slide readers."""
        await self.cache.close()
        self.readers.close()

    async def _handle(self, scope: Scope, headers: dict[str, str]) -> _Response:
        path: str = scope["path"]
        if not path.startswith(self.prefix + "/"):
            raise _HttpError(404, "not found")
        token, _, sub = path[len(self.prefix) + 1 :].partition("/")
        try:
            spec = verify_tile_token(token, self.config.secret)
        except TokenError as exc:
            raise _HttpError(403, str(exc)) from exc
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        settings = self._settings(query)
        if sub == "slide.dzi":
            fmt = "png" if query.get("f", [""])[0] == "png" else "jpeg"
            etag = _etag(spec, "dzi", fmt)
            if _matches(headers, etag):
                return _Response(304, etag=etag)
            geometry = await self._run(self._geometry, spec)
            xml = DeepZoomGeometry(geometry.width, geometry.height, geometry.tile_size, geometry.overlap, fmt).dzi_xml()
            return _Response(200, xml.encode(), "application/xml", etag)
        m = _TILE_RE.fullmatch(sub)
        if not m:
            raise _HttpError(404, "not found")
        level, col, row = int(m[1]), int(m[2]), int(m[3])
        fmt = FORMATS[m[4]]
        key = _etag(spec, level, col, row, fmt, settings.encode() if settings else "default", self.config.jpeg_quality)
        if _matches(headers, key):
            return _Response(304, etag=key)
        cached = await self.cache.get(key)
        if cached is not None:
            return _Response(200, cached, "image/png" if fmt == "png" else "image/jpeg", key)
        tile = await self._render_once(key, spec, level, col, row, fmt, settings)
        return _Response(200, tile.data, tile.content_type, key)

    def _settings(self, query: dict[str, list[str]]) -> RenderSettings | None:
        text = query.get("r", [""])[0]
        if not text:
            return None
        try:
            return RenderSettings.parse(text)
        except RenderSettingsError as exc:
            raise _HttpError(400, f"bad render settings: {exc}") from exc

    async def _render_once(
        self, key: str, spec: TileSpec, level: int, col: int, row: int, fmt: str, settings: RenderSettings | None
    ) -> EncodedTile:
        """Render a tile in the thread pool; concurrent requests for the same tile share one render.

        The render runs as its own task, so a client that disconnects does not cancel it for the others.
        """
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._produce(key, spec, level, col, row, fmt, settings))
            self._inflight[key] = task
            task.add_done_callback(lambda t, k=key: self._done(k, t))
        return await asyncio.shield(task)

    async def _produce(
        self, key: str, spec: TileSpec, level: int, col: int, row: int, fmt: str, settings: RenderSettings | None
    ) -> EncodedTile:
        tile = await self._run(self._render, spec, level, col, row, fmt, settings)
        await self.cache.set(key, tile.data)
        return tile

    def _done(self, key: str, task: asyncio.Future[EncodedTile]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here so an error nobody awaited any more is not logged as lost

    async def _run(self, func: Any, *args: Any) -> Any:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.config.render_threads)
        try:
            return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)
        except (TileNotFound, SlideNotFound) as exc:
            raise _HttpError(404, str(exc)) from exc
        except RenderSettingsError as exc:
            raise _HttpError(400, f"bad render settings: {exc}") from exc
        except SlideReadError as exc:
            logger.error("tile render failed: %s", exc)
            raise _HttpError(500, "slide read error") from exc
        except Exception as exc:
            logger.exception("tile render failed")
            raise _HttpError(500, "render error") from exc

    # -- blocking work (worker threads) -------------------------------------------------------------

    def _path(self, spec: TileSpec, i: int) -> str:
        return resolve_under(self.config.slide_root, spec.paths[i])

    def _geometry(self, spec: TileSpec) -> DeepZoomGeometry:
        if spec.kind == "overlay" and spec.reference:
            return DeepZoomGeometry(*spec.reference)
        key = (spec.paths[0], spec.checksums[0])
        geometry = self._geometries.get(key)
        if geometry is None:
            with self.readers.reader(self._path(spec, 0), spec.checksums[0]) as reader:
                geometry = geometry_for(reader.info)
            if len(self._geometries) > 4096:
                self._geometries.clear()
            self._geometries[key] = geometry
        return geometry

    def _render(
        self, spec: TileSpec, level: int, col: int, row: int, fmt: str, settings: RenderSettings | None
    ) -> EncodedTile:
        geometry = self._geometry(spec)
        quality = self.config.jpeg_quality
        self.renders += 1
        if spec.kind != "overlay":
            with self.readers.reader(self._path(spec, 0), spec.checksums[0]) as reader:
                if settings is not None:
                    settings.check_channels(len(reader.info.channel_names))
                return render_tile(reader, geometry, level, col, row, fmt, settings, quality)
        transform_path = resolve_under(self.config.slide_root, spec.transform_path or "")
        transform = self.readers.transform(transform_path, spec.transform_version or "")
        with self.readers.reader(self._path(spec, 1), spec.checksums[1]) as reader:
            if settings is not None:
                settings.check_channels(len(reader.info.channel_names))
            source = f"{spec.paths[1]}|{spec.checksums[1]}"
            return render_overlay_tile(
                geometry, reader, transform, level, col, row, fmt, settings, quality, self.chunks, source
            )

    # -- ASGI plumbing ------------------------------------------------------------------------------

    async def _send(self, send: Any, scope: Scope, response: _Response, headers: dict[str, str]) -> None:
        out = [(b"content-type", response.content_type.encode())]
        if response.etag:
            out.append((b"etag", response.etag.encode()))
        if response.status in (200, 304) and response.etag:
            out.append((b"cache-control", f"private, max-age={self.config.max_age_s}, immutable".encode()))
        elif response.status >= 400:
            out.append((b"cache-control", b"no-store"))
        body = b"" if response.status == 304 else response.body
        out.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": out})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _etag(spec: TileSpec, *parts: object) -> str:
    text = "|".join(
        map(str, (spec.kind, *spec.checksums, spec.transform_version, spec.reference, *parts))
    )
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:40] + '"'


def _matches(headers: dict[str, str], etag: str) -> bool:
    value = headers.get("if-none-match")
    if not value:
        return False
    return value.strip() == "*" or etag in {v.strip().removeprefix("W/") for v in value.split(",")}


def make_tile_app(config: TileServerConfig, cache: TileCache | None = None) -> TileApp:
    """The ASGI tile app for ``config`` (mount it at ``config.prefix``; it reads ``scope['path']``).

    Sets OpenCV's process-wide thread count to ``config.opencv_threads``: each tile is rendered in one
    pool thread, and nested OpenCV threads would only oversubscribe the cores.
    """
    if config.opencv_threads is not None:
        cv2.setNumThreads(config.opencv_threads)
    return TileApp(config, cache)
