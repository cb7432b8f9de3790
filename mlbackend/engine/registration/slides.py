"""Bounded reads from a slide pyramid: pick a level for a pixel size, read downsampled images and blocks."""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .types import RegistrationError, SlideReader

log = logging.getLogger(__name__)

CHUNK_PX = 2048  # side of the chunks a whole-level read is split into


@dataclass(frozen=True)
class SlideView:
    """A reader plus what the engine derived from it (pixel size actually used, channel names)."""

    reader: SlideReader
    mpp: float  # level-0 um/px used for all physical conversions
    mpp_recorded: bool
    channel_names: tuple[str, ...]
    level_dims: tuple[tuple[int, int], ...]
    level_ds: tuple[float, ...]

    @property
    def size(self) -> tuple[int, int]:
        return self.level_dims[0]

    def level_for(self, downsample: float) -> int:
        """Coarsest level whose downsample does not exceed ``downsample`` (so we only ever shrink)."""
        best = 0
        for i, ds in enumerate(self.level_ds):
            if ds <= downsample * 1.001 and ds >= self.level_ds[best]:
                best = i
        return best


def slide_view(reader: SlideReader, default_mpp: float, warnings: list[str], label: str) -> SlideView:
    """Wrap a reader, reading pyramid geometry once and falling back (with a warning) on missing mpp."""
    src = getattr(reader, "info", None) or reader  # annotation.imaging readers keep geometry on .info
    dims = tuple((int(w), int(h)) for w, h in _attr(src, "level_dimensions"))
    if not dims:
        raise RegistrationError(f"{label} slide has no pyramid levels")
    ds_attr = _attr(src, "level_downsamples", None)
    if ds_attr is None:
        ds_attr = [dims[0][0] / max(w, 1) for w, _ in dims]
    mpp_raw = _attr(src, "mpp", None)
    if mpp_raw is None and getattr(src, "mpp_x", None):
        mpp_raw = [src.mpp_x, getattr(src, "mpp_y", None) or src.mpp_x]
    if isinstance(mpp_raw, Sequence) and not isinstance(mpp_raw, str):
        vals = [float(v) for v in mpp_raw if v]
        mpp_raw = sum(vals) / len(vals) if vals else None
    recorded = bool(mpp_raw) and math.isfinite(float(mpp_raw)) and float(mpp_raw) > 0
    mpp = float(mpp_raw) if recorded else float(default_mpp)
    if not recorded:
        warnings.append(f"{label} slide records no pixel size (mpp); assuming {mpp:g} um/px")
    names = tuple(str(n) for n in (_attr(src, "channel_names", None) or ()))
    return SlideView(reader, mpp, recorded, names, dims, tuple(float(d) for d in ds_attr))


def _attr(obj: object, name: str, default: object = ...) -> object:
    value = getattr(obj, name, default)
    if value is ...:
        raise RegistrationError(f"slide reader has no attribute {name!r}")
    return value() if callable(value) else value


def _as_hwc(region: np.ndarray) -> np.ndarray:
    a = np.asarray(region)
    return a[:, :, None] if a.ndim == 2 else a


def read_block(view: SlideView, level: int, x: int, y: int, w: int, h: int, max_px: int,
               channels: Sequence[int] | None = None, fill: float = 0.0) -> np.ndarray:
    """Read a (h, w, C) float32 region at ``level`` in that level's pixels (only ``channels`` if given).

    Out-of-slide parts are ``fill`` (255 = white glass for brightfield)."""
    if w * h > max_px:
        raise RegistrationError(f"refusing to read {w}x{h} px at once (bound {max_px})")
    lw, lh = view.level_dims[level]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, lw), min(y + h, lh)
    if x1 <= x0 or y1 <= y0:
        return np.full((h, w, len(channels) if channels else max(len(view.channel_names), 1)), fill, np.float32)
    subset = channels is not None and len(channels) < len(view.channel_names) and _takes_channels(view.reader)
    if subset:  # planar readers (OME-TIFF) then read only these channels' planes
        part = _as_hwc(view.reader.read_region(level, x0, y0, x1 - x0, y1 - y0, channels=tuple(channels)))
    else:
        part = _as_hwc(view.reader.read_region(level, x0, y0, x1 - x0, y1 - y0))
    part = part[: y1 - y0, : x1 - x0]
    if channels is not None and not (subset and part.shape[2] == len(channels)):
        part = part[:, :, list(channels)]
    part = part.astype(np.float32)
    if (x0, y0, x1, y1) == (x, y, x + w, y + h) and part.shape[:2] == (h, w):
        return part
    out = np.full((h, w, part.shape[2]), fill, np.float32)
    out[y0 - y : y0 - y + part.shape[0], x0 - x : x0 - x + part.shape[1]] = part
    return out


def _takes_channels(reader: SlideReader) -> bool:
    """Whether ``reader.read_region`` accepts ``channels=`` (the project's readers do; the protocol does not need it)."""
    key = type(reader)
    if key not in _TAKES_CHANNELS:
        try:
            _TAKES_CHANNELS[key] = "channels" in inspect.signature(reader.read_region).parameters
        except (TypeError, ValueError):
            _TAKES_CHANNELS[key] = False
    return _TAKES_CHANNELS[key]


_TAKES_CHANNELS: dict[type, bool] = {}


def read_downsampled(view: SlideView, downsample: float, max_px: int,
                     channels: Sequence[int] | None = None) -> np.ndarray:
    """The whole slide at ``downsample`` x level 0 as (h, w, C) float32, read in bounded chunks."""
    level = view.level_for(downsample)
    factor = downsample / view.level_ds[level]
    lw, lh = view.level_dims[level]
    out_w, out_h = max(1, int(round(lw / factor))), max(1, int(round(lh / factor)))
    chunk = max(64, int(min(CHUNK_PX, math.isqrt(max_px)) // max(1.0, factor) * max(1.0, factor)))
    rows = []
    for cy in range(0, lh, chunk):
        row = []
        for cx in range(0, lw, chunk):
            cw, ch = min(chunk, lw - cx), min(chunk, lh - cy)
            part = read_block(view, level, cx, cy, cw, ch, max_px, channels)
            tw = int(round((cx + cw) / factor)) - int(round(cx / factor))
            th = int(round((cy + ch) / factor)) - int(round(cy / factor))
            row.append(_resize(part, max(tw, 1), max(th, 1)))
        rows.append(np.concatenate(row, axis=1))
    img = np.concatenate(rows, axis=0)
    if img.shape[:2] != (out_h, out_w):
        img = _resize(img, out_w, out_h)
    return img


def _resize(a: np.ndarray, w: int, h: int) -> np.ndarray:
    if a.shape[1] == w and a.shape[0] == h:
        return a
    if a.ndim == 3 and a.shape[2] > 4:  # OpenCV resizes at most 4 channels at once
        return np.concatenate([_resize(a[:, :, i : i + 4], w, h) for i in range(0, a.shape[2], 4)], axis=2)
    out = cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA)
    return out[:, :, None] if out.ndim == 2 else out


def scale_matrix(downsample: float) -> np.ndarray:
    """3x3 map from pixel-centre coordinates at ``downsample`` to level-0 pixel-centre coordinates."""
    off = (downsample - 1.0) / 2.0
    return np.array([[downsample, 0.0, off], [0.0, downsample, off], [0.0, 0.0, 1.0]])


class ArraySlide:
    """An in-memory pyramid satisfying ``SlideReader`` (tests, benchmarks, notebooks)."""

    def __init__(self, image: np.ndarray, mpp: float | None, channel_names: Sequence[str], levels: int = 6):
        base = _as_hwc(image)
        self.levels = [base]
        while len(self.levels) < levels and min(self.levels[-1].shape[:2]) >= 128:
            prev = self.levels[-1]
            nxt = cv2.resize(prev, (prev.shape[1] // 2, prev.shape[0] // 2), interpolation=cv2.INTER_AREA)
            self.levels.append(_as_hwc(nxt))
        self.mpp = mpp
        self.channel_names = list(channel_names)
        self.reads: list[tuple[int, int, int, int, int]] = []

    @property
    def level_dimensions(self) -> list[tuple[int, int]]:
        return [(a.shape[1], a.shape[0]) for a in self.levels]

    @property
    def level_downsamples(self) -> list[float]:
        return [self.levels[0].shape[1] / a.shape[1] for a in self.levels]

    def read_region(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        self.reads.append((level, x, y, w, h))
        lx, ly = int(x), int(y)
        a = self.levels[level]
        out = np.zeros((h, w, a.shape[2]), a.dtype)
        part = a[max(ly, 0) : ly + h, max(lx, 0) : lx + w]
        out[max(-ly, 0) : max(-ly, 0) + part.shape[0], max(-lx, 0) : max(-lx, 0) + part.shape[1]] = part
        return out
