"""Open slide readers and registration transforms shared by the tile server's worker threads.

OpenSlide handles hold file descriptors and decode caches, so a small LRU keeps the hot ones. A
reader evicted while a thread still uses it is closed when that thread releases it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import orjson

from annotation.imaging.errors import ImagingError
from annotation.imaging.reader_base import SlideReader
from annotation.imaging.readers import open_slide
from annotation.imaging.sniff import FAST_CHECKSUM_PREFIX, fast_checksum
from annotation.imaging.transform import SlideTransform

logger = logging.getLogger(__name__)


class SlideNotFound(ImagingError):
    """A path outside the slide root, a missing file, or a file whose checksum no longer matches."""


def resolve_under(root: str, relative: str) -> str:
    """Real path of ``relative`` inside ``root``; SlideNotFound if it escapes the root or does not exist."""
    root_real = os.path.realpath(root)
    if not relative or "\x00" in relative or os.path.isabs(relative):
        raise SlideNotFound("invalid slide path")
    full = os.path.realpath(os.path.join(root_real, relative))
    if os.path.commonpath([full, root_real]) != root_real:
        logger.warning("refused slide path outside the slide root: %r", relative)
        raise SlideNotFound("slide path outside the slide root")
    if not os.path.isfile(full):
        raise SlideNotFound("slide file not found")
    return full


class _Entry:
    __slots__ = ("reader", "users", "retired")

    def __init__(self, reader: SlideReader) -> None:
        self.reader = reader
        self.users = 0
        self.retired = False


class ReaderPool:
    """LRU of open readers keyed by (real path, checksum); thread-safe."""

    def __init__(self, size: int = 16, verify_checksums: bool = True, chunk_cache_bytes: int = 64 << 20) -> None:
        self.size = size
        self.chunk_cache_bytes = chunk_cache_bytes
        self.verify_checksums = verify_checksums
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._transforms: OrderedDict[tuple[str, str], SlideTransform] = OrderedDict()

    @contextmanager
    def reader(self, path: str, checksum: str) -> Iterator[SlideReader]:
        """Lease an open reader for ``path`` (opening it, and checking a fast checksum, if needed)."""
        key = (path, checksum)
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self._items.move_to_end(key)
                entry.users += 1
        if entry is None:
            entry = self._open(key)
        try:
            yield entry.reader
        finally:
            with self._lock:
                entry.users -= 1
                close = entry.retired and entry.users == 0
            if close:
                entry.reader.close()

    def _open(self, key: tuple[str, str]) -> _Entry:
        path, checksum = key
        if self.verify_checksums and checksum.startswith(FAST_CHECKSUM_PREFIX) and fast_checksum(path) != checksum:
            raise SlideNotFound("slide file changed since the token was issued (checksum mismatch)")
        fresh = _Entry(open_slide(path, chunk_cache_bytes=self.chunk_cache_bytes))
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                entry = self._items[key] = fresh
                fresh = None
            entry.users += 1
            retired = []
            while len(self._items) > self.size:
                _, old = self._items.popitem(last=False)
                old.retired = True
                if old.users == 0:
                    retired.append(old)
        if fresh is not None:  # another thread opened it first
            fresh.reader.close()
        for old in retired:
            old.reader.close()
        return entry

    def transform(self, path: str, version: str) -> SlideTransform:
        """The registration transform stored as JSON at ``path``; a "sha256:" version is checked."""
        key = (path, version)
        with self._lock:
            cached = self._transforms.get(key)
        if cached is not None:
            return cached
        with open(path, "rb") as fh:
            data = fh.read()
        if version.startswith("sha256:") and "sha256:" + hashlib.sha256(data).hexdigest() != version:
            raise SlideNotFound("transform file does not match its version")
        transform = SlideTransform.from_dict(orjson.loads(data))
        with self._lock:
            self._transforms[key] = transform
            while len(self._transforms) > 4 * self.size:
                self._transforms.popitem(last=False)
        return transform

    def close(self) -> None:
        """Close every idle reader (in-use ones close on release)."""
        with self._lock:
            entries = list(self._items.values())
            self._items.clear()
            for e in entries:
                e.retired = True
        for e in entries:
            if e.users == 0:
                e.reader.close()
