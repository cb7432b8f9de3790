"""Decode only the strips/tiles of one TIFF page that a region touches (thread-safe: ``os.pread``)."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import tifffile

from annotation.imaging.errors import SlideReadError


@dataclass(frozen=True, eq=False)
class PageLayout:
    """Chunk (tile or strip) layout of one TIFF page or frame, loaded once at open."""

    keyframe: tifffile.TiffPage
    offsets: np.ndarray
    bytecounts: np.ndarray
    width: int
    height: int
    chunk_w: int
    chunk_h: int
    across: int
    down: int
    samples: int
    separate: bool
    dtype: np.dtype

    @classmethod
    def of(cls, page: tifffile.TiffPage | tifffile.TiffFrame) -> PageLayout:
        """Layout of a page; works for TiffFrame too (geometry from its keyframe)."""
        key = page.keyframe
        if key.is_tiled:
            chunk_w, chunk_h = key.tilewidth, key.tilelength
        else:
            chunk_w, chunk_h = key.imagewidth, min(key.rowsperstrip or key.imagelength, key.imagelength)
        key.decode  # noqa: B018 - build tifffile's decoder closure once, before threads share it
        return cls(
            keyframe=key,
            offsets=np.asarray(page.dataoffsets, dtype=np.int64),
            bytecounts=np.asarray(page.databytecounts, dtype=np.int64),
            width=key.imagewidth,
            height=key.imagelength,
            chunk_w=chunk_w,
            chunk_h=chunk_h,
            across=-(-key.imagewidth // chunk_w),
            down=-(-key.imagelength // chunk_h),
            samples=key.samplesperpixel,
            separate=key.planarconfig == 2 and key.samplesperpixel > 1,
            dtype=np.dtype(key.dtype),
        )


class ChunkCache:
    """Thread-safe LRU of decoded chunks bounded by bytes (neighbouring tiles share stored chunks)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._size = 0
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple, value: np.ndarray) -> None:
        if value.nbytes > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._size += value.nbytes
            while self._size > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._size -= old.nbytes


def read_page_region(
    fd: int, layout: PageLayout, x: int, y: int, w: int, h: int, cache: ChunkCache | None = None
) -> np.ndarray:
    """(h, w, samples) pixels of the page at (x, y); pixels outside the page are 0."""
    out = np.zeros((h, w, layout.samples), dtype=layout.dtype)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, layout.width), min(y + h, layout.height)
    if x1 <= x0 or y1 <= y0:
        return out
    planes = range(layout.samples) if layout.separate else range(1)
    per_plane = layout.across * layout.down
    for r in range(y0 // layout.chunk_h, (y1 - 1) // layout.chunk_h + 1):
        for c in range(x0 // layout.chunk_w, (x1 - 1) // layout.chunk_w + 1):
            for s in planes:
                index = s * per_plane + r * layout.across + c
                seg = _cached_decode(fd, layout, index, cache)
                if seg is None:
                    continue
                cy, cx = r * layout.chunk_h, c * layout.chunk_w
                sy0, sy1 = max(y0, cy), min(y1, cy + seg.shape[0])
                sx0, sx1 = max(x0, cx), min(x1, cx + seg.shape[1])
                if sy1 <= sy0 or sx1 <= sx0:
                    continue
                target = out[sy0 - y : sy1 - y, sx0 - x : sx1 - x]
                block = seg[sy0 - cy : sy1 - cy, sx0 - cx : sx1 - cx]
                if layout.separate:
                    target[..., s] = block[..., 0]
                else:
                    target[...] = block
    return out


def _cached_decode(fd: int, layout: PageLayout, index: int, cache: ChunkCache | None) -> np.ndarray | None:
    if cache is None or cache.max_bytes <= 0:
        return _decode(fd, layout, index)
    key = (id(layout), index)
    seg = cache.get(key)
    if seg is None:
        seg = _decode(fd, layout, index)
        if seg is not None:
            cache.put(key, seg)
    return seg


def _decode(fd: int, layout: PageLayout, index: int) -> np.ndarray | None:
    count = int(layout.bytecounts[index])
    if count == 0:
        return None
    data = os.pread(fd, count, int(layout.offsets[index]))
    if len(data) != count:
        raise SlideReadError("truncated file: tile data missing")
    try:
        seg, _, shape = layout.keyframe.decode(data, index, jpegtables=layout.keyframe.jpegtables)
    except Exception as exc:  # codec errors come as many types
        raise SlideReadError(f"cannot decode tile {index}: {exc}") from exc
    if seg is None:
        return None
    seg = np.asarray(seg).reshape(shape[1], shape[2], shape[3])
    return seg
