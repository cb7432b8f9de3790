"""The ``SlideReader`` interface every format reader implements, plus the shared passthrough set-up."""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod

import cv2
import numpy as np
import tifffile

from annotation.imaging.errors import SlideReadError
from annotation.imaging.info import SlideInfo
from annotation.imaging.rawtiles import RawJpegLevel, find_raw_levels, raw_tile_bytes, verify_level

logger = logging.getLogger(__name__)


class SlideReader(ABC):
    """An open slide: pixel regions per level, thumbnail, associated images, stored JPEG tiles."""

    path: str
    info: SlideInfo

    def __init__(self, path: str) -> None:
        self.path = path
        self._raw: dict[int, RawJpegLevel] = {}
        self._fd: int | None = None

    @abstractmethod
    def read_region(
        self, level: int, x: int, y: int, w: int, h: int, channels: tuple[int, ...] | None = None
    ) -> np.ndarray:
        """Pixels of ``level`` at (x, y) **in that level's pixels**, size w x h; outside the image is background.

        Brightfield: (h, w, 3) uint8 RGB on white. Fluorescence: (h, w, C) in the file's dtype, 0 outside.
        ``channels`` is a hint: readers may skip decoding other channels (returned as 0).
        """

    def associated_image(self, name: str) -> np.ndarray:
        """An associated image (label, macro, thumbnail) as (h, w, 3) uint8 RGB; KeyError if absent."""
        raise KeyError(name)

    def close(self) -> None:
        """Release file handles; the reader is unusable afterwards."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SlideReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def thumbnail(self, max_px: int, max_read_px: int = 64 << 20) -> np.ndarray:
        """Whole slide scaled so its longer side is at most ``max_px`` (from the nearest finer level).

        A level larger than ``max_read_px`` pixels (an unpyramided slide) is read and reduced in strips.
        """
        w0, h0 = self.info.level_dimensions[0]
        scale = max(w0, h0) / max_px if max(w0, h0) > max_px else 1.0
        out_w, out_h = max(1, round(w0 / scale)), max(1, round(h0 / scale))
        level = self.info.best_level_for_downsample(scale)
        lw, lh = self.info.level_dimensions[level]
        if lw * lh <= max_read_px:
            region = self.read_region(level, 0, 0, lw, lh)
            return region if (lw, lh) == (out_w, out_h) else _resize(region, out_w, out_h)
        rows_per_strip = max(1, max_read_px // (4 * lw))
        strips = []
        for y in range(0, lh, rows_per_strip):
            h = min(rows_per_strip, lh - y)
            strips.append(_resize(self.read_region(level, 0, y, lw, h), out_w, max(1, round(h * out_h / lh))))
        return _resize(np.concatenate(strips, axis=0), out_w, out_h)

    # -- stored-tile passthrough --------------------------------------------------------------------

    def raw_level(self, level: int) -> RawJpegLevel | None:
        """Stored JPEG tile layout of ``level`` if its tiles can be served as they are, else None."""
        return self._raw.get(level)

    def raw_tile(self, level: int, col: int, row: int) -> bytes | None:
        """Stored tile (col, row) of ``level`` as a standalone JPEG (no decode), or None."""
        raw = self._raw.get(level)
        if raw is None or self._fd is None or not (0 <= col < raw.cols and 0 <= row < raw.rows):
            return None
        return raw_tile_bytes(self._fd, raw, col, row)

    def _setup_passthrough(self, tif: tifffile.TiffFile) -> None:
        """Find JPEG-tiled levels and keep those whose standalone tiles decode to the reader's pixels."""
        candidates = find_raw_levels(tif, self.info.level_dimensions)
        if not candidates:
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        for level, raw in candidates.items():
            if raw.width < raw.tile_w or raw.height < raw.tile_h:
                continue
            col, row = (raw.width // raw.tile_w - 1) // 2, (raw.height // raw.tile_h - 1) // 2  # interior
            ref = self.read_region(level, col * raw.tile_w, row * raw.tile_h, raw.tile_w, raw.tile_h)
            verified = verify_level(self._fd, raw, ref, col, row)
            if verified is not None:
                self._raw[level] = verified
        logger.debug("%s: passthrough levels %s", self.path, sorted(self._raw))


def check_extents(tif: tifffile.TiffFile, path: str) -> None:
    """Raise SlideReadError if any strip/tile of any page points past the end of the file (truncation)."""
    size = os.path.getsize(path)
    for page in _all_pages(tif):
        offsets = np.asarray(page.dataoffsets, dtype=np.uint64)
        counts = np.asarray(page.databytecounts, dtype=np.uint64)
        if offsets.size and int((offsets + counts).max()) > size:
            raise SlideReadError("truncated file: image data extends past the end of the file", path)


def _all_pages(tif: tifffile.TiffFile) -> list[tifffile.TiffPage]:
    pages = []
    for page in tif.pages:
        if isinstance(page, tifffile.TiffPage):
            pages.append(page)
            if getattr(page, "subifds", None) and page.pages is not None:
                pages.extend(p for p in page.pages if isinstance(p, tifffile.TiffPage))
    return pages


def resize_area(image: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """Area-average resize of (h, w) or (h, w, C) to (out_h, out_w, C), any number of channels."""
    return _resize(image, out_w, out_h)


def _resize(image: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] > 4:  # cv2's INTER_AREA takes at most 4 channels at non-integer scales
        parts = [_resize(np.ascontiguousarray(image[..., i : i + 4]), out_w, out_h) for i in range(0, image.shape[2], 4)]
        return np.concatenate(parts, axis=2)
    out = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA)
    return out.reshape(out_h, out_w, -1) if out.ndim == 2 else out
