from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from annotation.imaging.slidepool import ReaderPool, SlideNotFound, resolve_under
from annotation.imaging.sniff import fast_checksum
from annotation.imaging.tilecache import MemoryTileCache


def test_memory_cache_evicts_least_recently_used_to_stay_within_bytes() -> None:
    async def scenario() -> MemoryTileCache:
        cache = MemoryTileCache(max_bytes=250)
        await cache.set("a", b"x" * 100)
        await cache.set("b", b"x" * 100)
        assert await cache.get("a") is not None  # a is now most recent
        await cache.set("c", b"x" * 100)  # evicts b
        assert await cache.get("b") is None and await cache.get("c") is not None
        await cache.set("huge", b"x" * 1000)  # larger than the cache: not stored
        assert await cache.get("huge") is None
        return cache

    cache = asyncio.run(scenario())
    assert cache.size_bytes <= cache.max_bytes


def test_reader_pool_reuses_readers_and_closes_evicted_ones(tmp_path: Path, ome8: Path, ome16: Path) -> None:
    pool = ReaderPool(size=1)
    with pool.reader(str(ome8), fast_checksum(ome8)) as first:
        pass
    with pool.reader(str(ome8), fast_checksum(ome8)) as again:
        assert again is first
    with pool.reader(str(ome16), fast_checksum(ome16)):
        pass
    assert first._fd is None  # evicted and closed
    with pytest.raises(SlideNotFound):
        with pool.reader(str(ome16), "f1:not-the-checksum"):
            pass
    pool.close()


def test_reader_in_use_is_closed_only_after_release(ome8: Path, ome16: Path) -> None:
    pool = ReaderPool(size=1)
    with pool.reader(str(ome8), fast_checksum(ome8)) as busy:
        with pool.reader(str(ome16), fast_checksum(ome16)):
            pass
        assert busy._fd is not None
        assert busy.read_region(0, 0, 0, 4, 4).shape == (4, 4, 2)
    assert busy._fd is None


def test_resolve_under_refuses_escapes_including_symlinks(tmp_path: Path, ome8: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(ome8, root / "ok.tif")
    (tmp_path / "outside.tif").write_bytes(b"x")
    (root / "link.tif").symlink_to(tmp_path / "outside.tif")
    assert resolve_under(str(root), "ok.tif").endswith("ok.tif")
    for bad in ("../outside.tif", "link.tif", "/etc/passwd", "", "a\x00b", "missing.tif"):
        with pytest.raises(SlideNotFound):
            resolve_under(str(root), bad)
