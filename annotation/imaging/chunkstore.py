"""Rendered fluorescence chunks shared by overlay tiles: IF chunk -> composited RGB, cached once.

An overlay tile needs a ~300 px region of one IF level; inflating the stored zlib chunks (every visible
channel, 16 bit) and compositing them is most of its cost, and neighbouring tiles need the same chunks.
``RenderedChunkCache`` keeps the composited RGB (uint8, 3 planes: a third of the memory of four 16-bit
channels) per stored chunk, keyed by content (slide checksum, level, chunk, render settings):

- a thread-safe in-process LRU bounded by bytes, and
- optionally a store on a RAM file system (``/dev/shm``) shared by every tile-server process on the
  machine, so a chunk decoded by one uvicorn worker is not decoded again by the other. Files are
  written atomically (write + rename), bounded in total bytes (oldest evicted first) and read back
  with one ``read``; a missing, partial or foreign file is a miss, never an error.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from annotation.imaging.reader_base import SlideReader
from annotation.imaging.render import RenderSettings, composite
from annotation.imaging.tiffregion import ChunkCache

logger = logging.getLogger(__name__)

_MAGIC = b"LPC1"
_HEADER = 16  # magic + h, w, c as little-endian uint32
_MIN_SHARED_BYTES = 16 << 20


class RenderedChunkCache(ChunkCache):
    """Composited RGB chunks: in-process LRU (``max_bytes``) in front of an optional shared directory."""

    def __init__(
        self, max_bytes: int = 96 << 20, shared_dir: str | None = None, shared_max_bytes: int = 256 << 20
    ):
        super().__init__(max_bytes)
        self._computing: dict[tuple, list] = {}  # key -> [lock, waiters] while a thread computes it
        self.shared_dir = _usable_dir(shared_dir) if shared_dir and shared_max_bytes > 0 else None
        self.shared_max_bytes = shared_max_bytes
        if self.shared_dir is not None:
            # a small /dev/shm (Docker's default is 64 MB): use at most half of its free space
            st = os.statvfs(self.shared_dir)
            cap = st.f_bavail * st.f_frsize // 2
            self.shared_max_bytes = min(shared_max_bytes, cap)
            if cap < min(shared_max_bytes, _MIN_SHARED_BYTES):
                logger.warning("shared chunk store %s: too little free space, not used", self.shared_dir)
                self.shared_dir = None
        self._write_failed = False
        self._written = 0
        self.hits = self.shared_hits = self.misses = 0

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return value
        value = self._read_shared(key)
        if value is None:
            self.misses += 1
            return None
        self.shared_hits += 1
        self._remember(key, value)
        return value

    def get_or_compute(self, key: tuple, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached value, or ``compute()`` stored; concurrent callers (threads of this process, and
        other processes through a lock file in the shared store) wait for one computation instead of
        repeating it."""
        value = self.get(key)
        if value is not None:
            return value
        with self._thread_lock(key):
            with self._lock:
                value = self._items.get(key)
            if value is not None:
                return value
            with self._file_lock(key):
                value = self._read_shared(key)
                if value is not None:
                    self._remember(key, value)
                    return value
                value = compute()
                self.put(key, value)
                return value

    @contextmanager
    def _thread_lock(self, key: tuple) -> Iterator[None]:
        with self._lock:
            entry = self._computing.get(key)
            if entry is None:
                entry = self._computing[key] = [threading.Lock(), 0]
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._computing[key]

    @contextmanager
    def _file_lock(self, key: tuple) -> Iterator[None]:
        if self.shared_dir is None:
            yield
            return
        path = self._file(key) + ".lock"
        try:
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            try:
                os.unlink(path)  # the data file now exists (or the computation failed): lock not needed
            except OSError:
                pass
            os.close(fd)

    def put(self, key: tuple, value: np.ndarray) -> None:
        self._remember(key, value)
        self._write_shared(key, value)

    def _remember(self, key: tuple, value: np.ndarray) -> None:
        ChunkCache.put(self, key, value)  # the in-process LRU only

    # -- shared store -------------------------------------------------------------------------------

    def _file(self, key: tuple) -> str:
        return os.path.join(self.shared_dir or "", hashlib.sha1(repr(key).encode()).hexdigest() + ".rgb")

    def _read_shared(self, key: tuple) -> np.ndarray | None:
        if self.shared_dir is None:
            return None
        path = self._file(key)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            os.utime(path)  # recently used: evicted last
        except OSError:
            return None
        if len(data) < _HEADER or data[:4] != _MAGIC:
            return None
        h, w, c = np.frombuffer(data, dtype="<u4", count=3, offset=4)
        if len(data) != _HEADER + int(h) * int(w) * int(c):
            return None
        return np.frombuffer(data, dtype=np.uint8, offset=_HEADER).reshape(int(h), int(w), int(c))

    def _write_shared(self, key: tuple, value: np.ndarray) -> None:
        if self.shared_dir is None or value.dtype != np.uint8 or value.ndim != 3:
            return
        path = self._file(key)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        header = _MAGIC + np.array(value.shape, dtype="<u4").tobytes()
        try:
            with open(tmp, "wb") as fh:
                fh.write(header)
                fh.write(np.ascontiguousarray(value).data)
            os.replace(tmp, path)
        except OSError:
            if not self._write_failed:  # once per process: a full RAM disk would otherwise log every tile
                logger.warning("shared chunk store write failed", exc_info=True)
                self._write_failed = True
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return
        with self._lock:
            self._written += value.nbytes
            sweep = self._written > self.shared_max_bytes // 8
            if sweep:
                self._written = 0
        if sweep:
            self.sweep()

    def sweep(self) -> None:
        """Delete the least recently used files until the store is within 3/4 of its bound."""
        if self.shared_dir is None:
            return
        entries = []
        try:
            with os.scandir(self.shared_dir) as it:
                for e in it:
                    try:
                        st = e.stat()
                    except OSError:
                        continue
                    entries.append((st.st_mtime_ns, st.st_size, e.path))
        except OSError:
            return
        total = sum(size for _, size, _ in entries)
        if total <= self.shared_max_bytes:
            return
        for _, size, path in sorted(entries):
            if total <= self.shared_max_bytes * 3 // 4:
                break
            try:
                os.unlink(path)
            except OSError:
                pass
            total -= size


def _usable_dir(path: str) -> str | None:
    """``path`` created private (0700) if needed; None if it is not a directory this user alone owns."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError:
        logger.warning("shared chunk store %s unavailable", path)
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        logger.warning("shared chunk store %s not private to this user; not used", path)
        return None
    return path


def default_shared_dir() -> str | None:
    """A per-user directory on ``/dev/shm`` (RAM) when there is one, else None (no shared store)."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        return f"/dev/shm/laypath-chunks-{os.getuid()}"
    return None


def read_rendered_region(
    reader: SlideReader,
    level: int,
    x: int,
    y: int,
    w: int,
    h: int,
    settings: RenderSettings,
    cache: RenderedChunkCache | None = None,
    source: str = "",
) -> np.ndarray:
    """(h, w, 3) uint8 composite of ``level`` at (x, y) inside the level, assembled from cached chunks.

    ``source`` identifies the slide's content (path and checksum); without a cache, or for a level that
    is not tiled, the region is read and composited directly.
    """
    visible = tuple(c.index for c in settings.channels)
    tile = reader.info.level_tile_sizes[level] if level < len(reader.info.level_tile_sizes) else None
    if cache is None or tile is None or not source:
        return composite(reader.read_region(level, x, y, w, h, visible), settings)
    cw, ch = tile
    lw, lh = reader.info.level_dimensions[level]
    out = np.zeros((h, w, 3), dtype=np.uint8)
    tag = settings.encode()
    for r in range(max(y, 0) // ch, (min(y + h, lh) - 1) // ch + 1):
        for c in range(max(x, 0) // cw, (min(x + w, lw) - 1) // cw + 1):
            cx, cy = c * cw, r * ch
            bw, bh = min(cw, lw - cx), min(ch, lh - cy)
            block = cache.get_or_compute(
                (source, level, c, r, tag),
                lambda cx=cx, cy=cy, bw=bw, bh=bh: composite(
                    reader.read_region(level, cx, cy, bw, bh, visible), settings
                ),
            )
            sx0, sy0 = max(x, cx), max(y, cy)
            sx1, sy1 = min(x + w, cx + block.shape[1]), min(y + h, cy + block.shape[0])
            if sx1 > sx0 and sy1 > sy0:
                out[sy0 - y : sy1 - y, sx0 - x : sx1 - x] = block[sy0 - cy : sy1 - cy, sx0 - cx : sx1 - cx]
    return out
