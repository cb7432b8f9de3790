from __future__ import annotations

import hashlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest

from annotation.imaging.rawtiles import decode_jpeg_rgb
from annotation.imaging.sniff import fast_checksum
from annotation.imaging.tileserver import TileApp, TileServerConfig, make_tile_app
from annotation.imaging.tokens import TileSpec, sign_tile_token
from annotation.imaging.transform import SlideTransform

SECRET = "tile-secret"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def root(tmp_path: Path, generic_tiff: Path, ome16: Path) -> Path:
    (tmp_path / "slides").mkdir()
    shutil.copy(generic_tiff, tmp_path / "slides" / "he.tif")
    shutil.copy(ome16, tmp_path / "slides" / "if.ome.tif")
    transform = orjson.dumps(SlideTransform.from_matrix(np.array([[1.0, 0, 5.5], [0, 1.0, -3.25]])).to_dict())
    version = "sha256:" + hashlib.sha256(transform).hexdigest()
    (tmp_path / "slides" / f"{version[7:]}.json").write_bytes(transform)
    (tmp_path / "secret.tif").write_bytes(b"outside")
    return tmp_path / "slides"


@pytest.fixture
async def app(root: Path) -> AsyncIterator[TileApp]:
    tile_app = make_tile_app(TileServerConfig(secret=SECRET, slide_root=str(root), prefix="/tiles"))
    yield tile_app
    await tile_app.close()


def client(app: TileApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def token_for(root: Path, kind: str = "brightfield", **kw: object) -> str:
    if kind == "overlay":
        transform = next(root.glob("*.json"))
        spec = TileSpec(
            "overlay",
            ("he.tif", "if.ome.tif"),
            (fast_checksum(root / "he.tif"), fast_checksum(root / "if.ome.tif")),
            transform.name,
            "sha256:" + transform.stem,
        )
    else:
        name = "he.tif" if kind == "brightfield" else "if.ome.tif"
        spec = TileSpec(kind, (kw.get("path") or name,), (fast_checksum(root / name),))  # type: ignore[arg-type]
    return sign_tile_token(spec, SECRET, 600)


async def test_dzi_and_tile_are_served_with_strong_etag_and_immutable_caching(app: TileApp, root: Path) -> None:
    token = token_for(root)
    async with client(app) as c:
        dzi = await c.get(f"/tiles/{token}/slide.dzi")
        assert dzi.status_code == 200 and dzi.headers["content-type"] == "application/xml"
        assert 'TileSize="256"' in dzi.text and 'Width="1300"' in dzi.text
        tile = await c.get(f"/tiles/{token}/slide_files/11/1_1.jpeg")
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/jpeg"
    assert decode_jpeg_rgb(tile.content).shape == (256, 256, 3)
    etag = tile.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert tile.headers["cache-control"].startswith("private, max-age=") and "immutable" in tile.headers["cache-control"]


async def test_if_none_match_gives_304_and_repeat_requests_hit_the_cache(app: TileApp, root: Path) -> None:
    token = token_for(root)
    url = f"/tiles/{token}/slide_files/10/0_0.jpeg"
    async with client(app) as c:
        first = await c.get(url)
        renders = app.renders
        second = await c.get(url)
        not_modified = await c.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert second.content == first.content and app.renders == renders and app.cache.hits >= 1
    assert not_modified.status_code == 304 and not_modified.content == b""


async def test_cache_key_does_not_depend_on_the_token(app: TileApp, root: Path) -> None:
    a, b = token_for(root), sign_tile_token(
        TileSpec("brightfield", ("he.tif",), (fast_checksum(root / "he.tif"),)), SECRET, 7200
    )
    assert a != b
    async with client(app) as c:
        ra = await c.get(f"/tiles/{a}/slide_files/9/0_0.jpeg")
        renders = app.renders
        rb = await c.get(f"/tiles/{b}/slide_files/9/0_0.jpeg")
    assert ra.headers["etag"] == rb.headers["etag"] and app.renders == renders


async def test_bad_or_expired_tokens_get_403(app: TileApp, root: Path) -> None:
    spec = TileSpec("brightfield", ("he.tif",), (fast_checksum(root / "he.tif"),))
    expired = sign_tile_token(spec, SECRET, 60, bucket_s=1, now=1000)
    forged = sign_tile_token(spec, "not the secret", 600)
    async with client(app) as c:
        for token in (expired, forged, "garbage"):
            r = await c.get(f"/tiles/{token}/slide_files/11/0_0.jpeg")
            assert r.status_code == 403


async def test_missing_tiles_paths_and_files_get_404(app: TileApp, root: Path) -> None:
    token = token_for(root)
    outside = sign_tile_token(TileSpec("brightfield", ("../secret.tif",), ("f1:x",)), SECRET, 600)
    missing = sign_tile_token(TileSpec("brightfield", ("nope.tif",), ("f1:x",)), SECRET, 600)
    stale = sign_tile_token(TileSpec("brightfield", ("he.tif",), ("f1:old",)), SECRET, 600)
    async with client(app) as c:
        for url in (
            f"/tiles/{token}/slide_files/12/0_0.jpeg",  # level past the top
            f"/tiles/{token}/slide_files/11/99_0.jpeg",
            f"/tiles/{token}/slide_files/11/0_0.gif",
            f"/tiles/{token}/other",
            f"/tiles/{outside}/slide.dzi",
            f"/tiles/{missing}/slide.dzi",
            f"/tiles/{stale}/slide_files/11/0_0.jpeg",
            "/elsewhere",
        ):
            assert (await c.get(url)).status_code == 404, url


async def test_fluorescence_settings_come_from_the_query_and_bad_ones_get_400(app: TileApp, root: Path) -> None:
    token = token_for(root, "fluorescence")
    base = f"/tiles/{token}/slide_files/10/0_0.png"
    async with client(app) as c:
        default = await c.get(base)
        red = await c.get(base + "?r=2-ff0000-0-65535-1")
        bad = await c.get(base + "?r=2-ff0000-9-1-1")
        missing_channel = await c.get(base + "?r=7-ff0000-0-10-1")
    assert default.status_code == red.status_code == 200
    assert default.headers["etag"] != red.headers["etag"]
    rgb = decode_jpeg_rgb(red.content)
    assert rgb[..., 0].max() > 0 and rgb[..., 1:].max() == 0
    assert bad.status_code == 400 and missing_channel.status_code == 400


async def test_overlay_tiles_use_the_he_geometry(app: TileApp, root: Path) -> None:
    token = token_for(root, "overlay")
    async with client(app) as c:
        dzi = await c.get(f"/tiles/{token}/slide.dzi?f=png")
        tile = await c.get(f"/tiles/{token}/slide_files/11/5_3.png")
    assert 'Width="1300"' in dzi.text and 'Format="png"' in dzi.text
    assert tile.status_code == 200
    rgba = decode_jpeg_rgb(tile.content)
    assert rgba.shape == (1000 - 3 * 256, 1300 - 5 * 256, 3)


def redis_available() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")
async def test_redis_cache_is_shared_between_app_instances(root: Path) -> None:
    import uuid

    from annotation.imaging.tilecache import RedisTileCache

    prefix = f"laypath:test:{uuid.uuid4().hex}:"
    config = TileServerConfig(secret=SECRET, slide_root=str(root), cache_url="redis://127.0.0.1:6379/15")
    first = make_tile_app(config, RedisTileCache(config.cache_url or "", ttl_s=60, prefix=prefix))
    second = make_tile_app(config, RedisTileCache(config.cache_url or "", ttl_s=60, prefix=prefix))
    token = token_for(root)
    url = f"/tiles/{token}/slide_files/9/0_0.jpeg"
    try:
        async with client(first) as c:
            a = await c.get(url)
        async with client(second) as c:
            b = await c.get(url)
    finally:
        await first.close()
        await second.close()
    assert a.status_code == b.status_code == 200 and a.content == b.content
    assert first.renders == 1 and second.renders == 0


async def test_concurrent_requests_for_one_tile_share_one_render(app: TileApp, root: Path) -> None:
    import asyncio

    token = token_for(root, "fluorescence")
    url = f"/tiles/{token}/slide_files/9/0_0.jpeg"
    async with client(app) as c:
        responses = await asyncio.gather(*(c.get(url) for _ in range(5)))
    assert all(r.status_code == 200 for r in responses)
    assert len({r.content for r in responses}) == 1 and app.renders == 1


async def test_absolute_paths_and_non_get_methods_are_refused(app: TileApp, root: Path) -> None:
    absolute = sign_tile_token(TileSpec("brightfield", (str(root / "he.tif"),), ("f1:x",)), SECRET, 600)
    async with client(app) as c:
        assert (await c.get(f"/tiles/{absolute}/slide.dzi")).status_code == 404
        assert (await c.post(f"/tiles/{token_for(root)}/slide.dzi")).status_code == 405
        head = await c.head(f"/tiles/{token_for(root)}/slide_files/11/0_0.jpeg")
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
