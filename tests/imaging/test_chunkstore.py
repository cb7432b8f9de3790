"""Composited IF chunk cache behind overlay tiles: same pixels as without it, shared between processes."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from annotation.imaging.chunkstore import RenderedChunkCache, read_rendered_region
from annotation.imaging.deepzoom import DeepZoomGeometry
from annotation.imaging.overlay import render_overlay_tile
from annotation.imaging.readers import open_slide
from annotation.imaging.render import ChannelSetting, RenderSettings, composite
from tests.imaging.test_overlay import known_transform

SETTINGS = RenderSettings.of(
    [ChannelSetting(0, "00ff00", 3000, 62000), ChannelSetting(2, "ff00ff", 1000, 50000, 0.8)]
)


def test_region_from_cached_chunks_equals_direct_composite(ome16: Path, tmp_path: Path) -> None:
    cache = RenderedChunkCache(64 << 20, str(tmp_path / "shared"))
    with open_slide(ome16) as reader:
        for x, y, w, h in [(0, 0, 900, 700), (250, 100, 333, 517), (899, 699, 1, 1), (10, 600, 700, 100)]:
            direct = composite(reader.read_region(0, x, y, w, h, (0, 2)), SETTINGS)
            for _ in range(2):  # computed, then from the cache
                got = read_rendered_region(reader, 0, x, y, w, h, SETTINGS, cache, "if16|sum")
                assert np.array_equal(got, direct)
    assert cache.hits > 0


def test_overlay_tile_is_identical_with_and_without_the_chunk_cache(ome16: Path, tmp_path: Path) -> None:
    geometry = DeepZoomGeometry(1024, 1024, 256, 0)
    cache = RenderedChunkCache(64 << 20, str(tmp_path / "shared"))
    with open_slide(ome16) as reader:
        for level, col, row in [
            (geometry.max_level, 1, 1),
            (geometry.max_level, 3, 2),
            (geometry.max_level - 2, 0, 0),
        ]:
            plain = render_overlay_tile(geometry, reader, known_transform(), level, col, row, "png", SETTINGS)
            cached = render_overlay_tile(
                geometry,
                reader,
                known_transform(),
                level,
                col,
                row,
                "png",
                SETTINGS,
                chunks=cache,
                source="s",
            )
            assert cached.data == plain.data


def test_shared_store_serves_another_process_cache_and_ignores_bad_files(tmp_path: Path) -> None:
    shared = str(tmp_path / "shared")
    a, b = RenderedChunkCache(1 << 20, shared), RenderedChunkCache(1 << 20, shared)
    value = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    a.put(("k", 1), value)
    assert np.array_equal(b.get(("k", 1)), value) and b.shared_hits == 1
    Path(b._file(("k", 2))).write_bytes(b"LPC1" + b"\x00" * 5)  # truncated / foreign file: a miss
    assert b.get(("k", 2)) is None
    assert oct(os.stat(shared).st_mode & 0o777) == "0o700"


def test_shared_store_stays_within_its_bound(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    cache = RenderedChunkCache(0, str(shared), shared_max_bytes=64 << 10)
    for i in range(40):
        cache.put(("k", i), np.full((64, 64, 3), i, dtype=np.uint8))  # 12 KB each, 480 KB in all
    total = sum(p.stat().st_size for p in shared.iterdir())
    assert total <= (64 << 10) + 2 * 12304
    assert cache.get(("k", 39)) is not None and cache.get(("k", 0)) is None  # oldest evicted first


def test_concurrent_misses_compute_a_chunk_once(tmp_path: Path) -> None:
    caches = [RenderedChunkCache(1 << 20, str(tmp_path / "shared")) for _ in range(2)]  # two "processes"
    calls = []
    gate = threading.Barrier(8)

    def compute() -> np.ndarray:
        calls.append(1)
        return np.zeros((4, 4, 3), dtype=np.uint8)

    def worker(i: int) -> None:
        gate.wait()
        caches[i % 2].get_or_compute(("k",), compute)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert not list((tmp_path / "shared").glob("*.lock"))


def test_no_shared_store_for_a_directory_others_can_write(tmp_path: Path) -> None:
    shared = tmp_path / "open"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    assert RenderedChunkCache(1 << 20, str(shared)).shared_dir is None


def test_shared_store_fits_a_small_ram_disk(tmp_path: Path, monkeypatch) -> None:
    class Small:
        f_bavail, f_frsize = 8 << 10, 4096  # 32 MB free

    class Tiny:
        f_bavail, f_frsize = 1 << 10, 4096  # 4 MB free

    monkeypatch.setattr(os, "statvfs", lambda path: Small)
    cache = RenderedChunkCache(1 << 20, str(tmp_path / "a"), shared_max_bytes=256 << 20)
    assert cache.shared_dir is not None and cache.shared_max_bytes == 16 << 20
    monkeypatch.setattr(os, "statvfs", lambda path: Tiny)
    assert RenderedChunkCache(1 << 20, str(tmp_path / "b"), shared_max_bytes=256 << 20).shared_dir is None
