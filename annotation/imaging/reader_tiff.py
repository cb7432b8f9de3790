"""OME-TIFF and plain (pyramidal) TIFF through tifffile: multi-channel fluorescence, 8/16-bit or float.

Pyramid levels come from tifffile's series levels (SubIFDs, OME multi-resolution, reduced-resolution
pages). Channels are the series' C axis (one page per channel) or the samples of one page; other
axes (Z, T) are read at index 0. RGB uint8 series are reported as brightfield.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace

import numpy as np
import tifffile

from annotation.imaging.errors import SlideReadError
from annotation.imaging.info import BRIGHTFIELD, FLUORESCENCE, SlideInfo, default_display
from annotation.imaging.reader_base import SlideReader, check_extents
from annotation.imaging.tiffmeta import channel_names, physical_size_um
from annotation.imaging.tiffregion import ChunkCache, PageLayout, read_page_region

logger = logging.getLogger(__name__)

_DISPLAY_SAMPLE_PX = 2048
DEFAULT_CHUNK_CACHE_BYTES = 64 << 20


class TiffReader(SlideReader):
    """A slide read with tifffile, decoding only the chunks a region needs."""

    def __init__(self, path: str, chunk_cache_bytes: int = DEFAULT_CHUNK_CACHE_BYTES) -> None:
        super().__init__(path)
        self._chunks = ChunkCache(chunk_cache_bytes)
        with tifffile.TiffFile(path) as tif:
            check_extents(tif, path)
            if not tif.series:
                raise SlideReadError("TIFF file holds no image", path)
            series = tif.series[0]
            levels = _levels(tif, series)
            self._levels = [self._level_pages(level) for level in levels]
            key = self._levels[0][0].keyframe
            n_channels = sum(p.samples for p in self._levels[0])
            brightfield = n_channels == 3 and key.dtype == np.uint8 and key.photometric in (2, 6)
            names = ("R", "G", "B") if brightfield else channel_names(tif, n_channels)
            mpp_x, mpp_y = physical_size_um(tif, key)
            dims = tuple((lv[0].width, lv[0].height) for lv in self._levels)
            w0, h0 = dims[0]
            self.info = SlideInfo(
                format="ome-tiff" if tif.is_ome else "tiff",
                kind=BRIGHTFIELD if brightfield else FLUORESCENCE,
                level_dimensions=dims,
                level_downsamples=tuple((w0 / w + h0 / h) / 2 for w, h in dims),
                level_tile_sizes=tuple(
                    (lv[0].chunk_w, lv[0].chunk_h) if lv[0].keyframe.is_tiled else None for lv in self._levels
                ),
                mpp_x=mpp_x,
                mpp_y=mpp_y,
                objective_power=None,
                channel_names=names,
                dtype=str(np.dtype(key.dtype)),
            )
            self._fd = os.open(path, os.O_RDONLY)
            if brightfield:
                self._setup_passthrough(tif)
            else:
                self.info = _with_display(self.info, self._display_sample())

    def _level_pages(self, level: tifffile.TiffPageSeries) -> list[PageLayout]:
        """The pages holding the channels of one level (Z/T index 0)."""
        pages = [p for p in level.pages if p is not None]
        if not pages:
            raise SlideReadError("pyramid level without image data", self.path)
        axes = level.axes
        page_axes = [(a, n) for a, n in zip(axes, level.shape) if a not in "YXS"]
        if not page_axes:
            return [PageLayout.of(pages[0])]
        shape = tuple(n for _, n in page_axes)
        names = [a for a, _ in page_axes]
        chan_axis = names.index("C") if "C" in names else len(names) - 1
        out = []
        for c in range(shape[chan_axis]):
            idx = [0] * len(shape)
            idx[chan_axis] = c
            flat = int(np.ravel_multi_index(idx, shape))
            if flat >= len(level.pages) or level.pages[flat] is None:
                raise SlideReadError("channel page missing", self.path)
            out.append(PageLayout.of(level.pages[flat]))
        return out

    def read_region(
        self, level: int, x: int, y: int, w: int, h: int, channels: tuple[int, ...] | None = None
    ) -> np.ndarray:
        """(h, w, C) pixels of ``level`` at level coordinates (x, y); brightfield outside = white.

        ``channels`` limits decoding to those channel indices (the others come back as 0).
        """
        if self._fd is None:
            raise SlideReadError("reader is closed", self.path)
        pages = self._levels[level]
        if channels is not None and len(pages) > 1:
            out = np.zeros((h, w, len(pages)), dtype=pages[0].dtype)
            for c in channels:
                out[..., c] = read_page_region(self._fd, pages[c], x, y, w, h, self._chunks)[..., 0]
            return out
        parts = [read_page_region(self._fd, layout, x, y, w, h, self._chunks) for layout in pages]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=2)
        if self.info.kind == BRIGHTFIELD:
            lw, lh = self.info.level_dimensions[level]
            if x < 0 or y < 0 or x + w > lw or y + h > lh:
                out = _white_outside(out, x, y, lw, lh)
        return out

    def _display_sample(self) -> np.ndarray:
        """All of the coarsest level, or its central 2048 px square if it is larger."""
        level = len(self._levels) - 1
        lw, lh = self.info.level_dimensions[level]
        w, h = min(lw, _DISPLAY_SAMPLE_PX), min(lh, _DISPLAY_SAMPLE_PX)
        return self.read_region(level, (lw - w) // 2, (lh - h) // 2, w, h)


def _levels(tif: tifffile.TiffFile, series: tifffile.TiffPageSeries) -> list[tifffile.TiffPageSeries]:
    """Pyramid levels of a series, finest first; falls back to other series that are downscaled copies."""
    levels = list(series.levels)
    if len(levels) == 1:
        yx = series.shape[series.axes.index("Y")], series.shape[series.axes.index("X")]
        for other in tif.series[1:]:
            if other.axes != series.axes or other.dtype != series.dtype or "Y" not in other.axes:
                continue
            oy, ox = other.shape[other.axes.index("Y")], other.shape[other.axes.index("X")]
            if oy < yx[0] and ox < yx[1] and abs(yx[0] / oy - yx[1] / ox) < 0.1 * (yx[0] / oy):
                levels.append(other)
        levels.sort(key=lambda s: -s.shape[s.axes.index("X")])
    return levels


def _white_outside(out: np.ndarray, x: int, y: int, lw: int, lh: int) -> np.ndarray:
    mask = np.ones(out.shape[:2], dtype=bool)
    mask[max(0, -y) : max(0, lh - y), max(0, -x) : max(0, lw - x)] = False
    out[mask] = 255
    return out


def _with_display(info: SlideInfo, sample: np.ndarray) -> SlideInfo:
    return replace(info, default_display=default_display(info.channel_names, sample))
