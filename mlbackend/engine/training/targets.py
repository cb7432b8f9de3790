"""Dense target maps and per-pixel loss weights (0 = unknown) built from partial point/polygon labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.draw import polygon as draw_polygon

from mlbackend.engine.training.samples import Label, TrainingSample


@dataclass(frozen=True)
class TargetConfig:
    """Geometry of the targets, in pixels of the training crop."""

    sigma_px: float = 3.0  # Gaussian of the centre heatmap
    known_radius_px: float = 10.0  # around a label the heatmap is known (peak there, no other centre)
    fg_radius_px: float = 5.0  # around a point label pixels are known foreground
    cls_radius_px: float = 6.0  # around a point label pixels carry the label's class
    bg_radius_px: float = 20.0  # exhaustive regions: farther than this from every label is background


@dataclass(frozen=True)
class Targets:
    """Targets and weights of one crop; weights are 0 where the label says nothing."""

    fg: np.ndarray  # (H, W) float32 in {0, 1}
    fg_w: np.ndarray
    centre: np.ndarray  # (H, W) float32 Gaussian peaks
    centre_w: np.ndarray
    hv: np.ndarray  # (2, H, W) float32 in [-1, 1]
    hv_w: np.ndarray
    cls: np.ndarray  # (H, W) int64, -1 where unknown
    cls_w: np.ndarray


def _disc(shape: tuple[int, int], x: float, y: float, r: float) -> tuple[slice, slice, np.ndarray, np.ndarray]:
    h, w = shape
    x0, x1 = max(int(np.floor(x - r)), 0), min(int(np.ceil(x + r)) + 1, w)
    y0, y1 = max(int(np.floor(y - r)), 0), min(int(np.ceil(y + r)) + 1, h)
    x1, y1 = max(x1, x0), max(y1, y0)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    d2 = (xx - x) ** 2 + (yy - y) ** 2
    return slice(y0, y1), slice(x0, x1), d2, d2 <= r * r


def _polygon_pixels(lab: Label, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(lab.polygon, dtype=np.float64)
    return draw_polygon(pts[:, 1], pts[:, 0], shape=shape)


def _hv_of(rr: np.ndarray, cc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HoVer-style maps: x and y offsets from the instance's centroid, scaled to [-1, 1] per side."""
    dx = cc - cc.mean()
    dy = rr - rr.mean()
    h = np.where(dx < 0, dx / max(-dx.min(), 1e-6), dx / max(dx.max(), 1e-6))
    v = np.where(dy < 0, dy / max(-dy.min(), 1e-6), dy / max(dy.max(), 1e-6))
    return h.astype(np.float32), v.astype(np.float32)


def build_targets(sample: TrainingSample, num_classes: int, cfg: TargetConfig) -> Targets:
    """Targets for one (already augmented) sample following its label mode and asked classes."""
    shape = sample.image.shape[:2]
    z = np.zeros(shape, np.float32)
    t = Targets(z.copy(), z.copy(), z.copy(), z.copy(), np.zeros((2,) + shape, np.float32), z.copy(),
                np.full(shape, -1, np.int64), z.copy())
    negatives = sample.mode == "exhaustive" and sample.asks_all_classes(num_classes)
    if negatives:
        t.fg_w[:] = 1.0
        t.centre_w[:] = 1.0
    for lab in sample.labels:
        if negatives:  # near a label the extent of the cell is unknown unless outlined
            ys, xs, _, inside = _disc(shape, lab.x, lab.y, cfg.bg_radius_px)
            t.fg_w[ys, xs][inside] = 0.0
    for lab in sample.labels:
        _paint_label(t, lab, shape, cfg, num_classes)
    return t


def _paint_label(t: Targets, lab: Label, shape: tuple[int, int], cfg: TargetConfig, num_classes: int) -> None:
    w = float(lab.weight)
    if w <= 0:
        return
    ys, xs, d2, known = _disc(shape, lab.x, lab.y, cfg.known_radius_px)
    gauss = np.exp(-d2 / (2 * cfg.sigma_px**2)).astype(np.float32)
    sub, subw = t.centre[ys, xs], t.centre_w[ys, xs]
    sub[known] = np.maximum(sub[known], gauss[known])
    subw[known] = np.maximum(subw[known], w)
    has_cls = lab.cls is not None and 0 <= lab.cls < num_classes
    if lab.is_polygon:
        rr, cc = _polygon_pixels(lab, shape)
        if len(rr) == 0:
            return
        t.fg[rr, cc] = 1.0
        t.fg_w[rr, cc] = w
        h, v = _hv_of(rr, cc)
        t.hv[0, rr, cc], t.hv[1, rr, cc] = h, v
        t.hv_w[rr, cc] = w
        if has_cls:
            t.cls[rr, cc] = lab.cls
            t.cls_w[rr, cc] = w
        return
    ys, xs, d2, inside = _disc(shape, lab.x, lab.y, cfg.fg_radius_px)
    t.fg[ys, xs][inside] = 1.0
    t.fg_w[ys, xs][inside] = w
    if has_cls:
        ys, xs, d2, inside = _disc(shape, lab.x, lab.y, cfg.cls_radius_px)
        t.cls[ys, xs][inside] = lab.cls
        t.cls_w[ys, xs][inside] = w
