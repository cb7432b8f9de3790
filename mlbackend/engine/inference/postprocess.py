"""Turn network maps into cells: centre peaks as seeds, seeded watershed for outlines, class by mean logits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from mlbackend.engine.inference.maps import Maps


@dataclass(frozen=True)
class CellPrediction:
    """One predicted cell: centre, class index, confidence (centre peak x class probability), outline."""

    x: float
    y: float
    cls: int
    confidence: float
    polygon: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class PostConfig:
    """Post-processing thresholds (pixels of the crop the maps belong to)."""

    peak_threshold: float = 0.3
    min_distance_px: int = 6
    fg_threshold: float = 0.5
    max_radius_px: float = 30.0  # a cell never grows farther than this from its seed
    seed_radius_px: float = 3.0  # outline of a seed that has no foreground around it
    work_scale: float = 1.0  # run peaks/watershed on maps resized by this (0.5: 4x fewer pixels; the net
    # already predicts at half resolution with stem stride 2, so little detail is lost)


def find_peaks(centre: np.ndarray, cfg: PostConfig) -> np.ndarray:
    """(N, 2) int (row, col) local maxima of the centre heatmap above the threshold, ``min_distance_px`` apart."""
    k = 2 * int(cfg.min_distance_px) + 1
    heat = centre.astype(np.float32)
    local_max = cv2.dilate(heat, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    rows, cols = np.nonzero((heat >= local_max) & (heat > cfg.peak_threshold))
    if len(rows) < 2:
        return np.stack([rows, cols], axis=1).reshape(-1, 2)
    # Plateaus give several equal maxima: keep the strongest (then first) within min_distance.
    order = np.lexsort((cols, rows, -heat[rows, cols]))
    rows, cols = rows[order], cols[order]
    keep = np.ones(len(rows), bool)
    for i in range(len(rows)):
        if keep[i]:
            close = (np.abs(rows[i + 1 :] - rows[i]) <= cfg.min_distance_px) & (np.abs(cols[i + 1 :] - cols[i]) <= cfg.min_distance_px)
            keep[i + 1 :] &= ~close
    return np.stack([rows[keep], cols[keep]], axis=1)


def _refine(centre: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """(N, 2) sub-pixel peak positions (x, y): the heat-weighted mean of each peak's 3x3 neighbourhood."""
    h, w = centre.shape
    sx = np.zeros(len(peaks))
    sy = np.zeros(len(peaks))
    sw = np.zeros(len(peaks))
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            r, c = peaks[:, 0] + dr, peaks[:, 1] + dc
            ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
            v = np.where(ok, centre[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)], 0.0).astype(np.float64)
            sx += v * c
            sy += v * r
            sw += v
    good = sw > 0
    out = peaks[:, ::-1].astype(np.float64)
    out[good] = np.stack([sx[good] / sw[good], sy[good] / sw[good]], axis=1)
    return out


def instance_energy(maps: Maps) -> np.ndarray:
    """Watershed relief: steep HoVer gradients (cell borders) plus low foreground probability."""
    gh = np.abs(cv2.Sobel(maps.hv[0], cv2.CV_32F, 1, 0, ksize=5))
    gv = np.abs(cv2.Sobel(maps.hv[1], cv2.CV_32F, 0, 1, ksize=5))
    grad = np.maximum(gh / max(float(gh.max()), 1e-6), gv / max(float(gv.max()), 1e-6))
    return grad + (1.0 - maps.fg) - 0.5 * maps.centre


def instance_labels(maps: Maps, cfg: PostConfig) -> tuple[np.ndarray, np.ndarray]:
    """Instance label image (0 background, i+1 for peak i) and the (N, 2) peaks it was grown from."""
    peaks = find_peaks(maps.centre, cfg)
    markers = np.zeros(maps.centre.shape, np.int32)
    markers[peaks[:, 0], peaks[:, 1]] = np.arange(1, len(peaks) + 1)
    if len(peaks) == 0:
        return markers, peaks
    dist = cv2.distanceTransform((markers == 0).astype(np.uint8), cv2.DIST_L2, 5)
    mask = (maps.fg > cfg.fg_threshold) & (dist <= cfg.max_radius_px)
    mask |= dist <= cfg.seed_radius_px
    labels = watershed(instance_energy(maps), markers=markers, mask=mask)
    return labels.astype(np.int32), peaks


def _outline(mask: np.ndarray) -> np.ndarray:
    """(V, 2) float vertices (x, y) of the largest external contour of a mask (empty if none)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return np.zeros((0, 2))
    return max(contours, key=cv2.contourArea).reshape(-1, 2).astype(np.float64)


PUSH = 0.75


def _rescaled(maps: Maps, cfg: PostConfig) -> tuple[Maps, PostConfig]:
    """Maps resized by ``cfg.work_scale`` and the pixel thresholds scaled to match."""
    s = cfg.work_scale
    h, w = maps.centre.shape
    size = (max(1, int(round(w * s))), max(1, int(round(h * s))))

    def rs(a: np.ndarray) -> np.ndarray:
        return cv2.resize(a, size, interpolation=cv2.INTER_AREA)

    small = Maps(fg=rs(maps.fg), centre=rs(maps.centre), hv=np.stack([rs(c) for c in maps.hv]),
                 cls=np.stack([rs(c) for c in maps.cls]))
    return small, replace(cfg, min_distance_px=max(1, int(round(cfg.min_distance_px * s))),
                          max_radius_px=cfg.max_radius_px * s, seed_radius_px=max(1.0, cfg.seed_radius_px * s),
                          work_scale=1.0)


ClassProbsFn = Callable[[np.ndarray], np.ndarray]


def cells_from_maps(
    maps: Maps, cfg: PostConfig | None = None, offset_xy: tuple[float, float] = (0.0, 0.0), *,
    class_probs: ClassProbsFn | None = None, class_mix: float = 1.0,
) -> list[CellPrediction]:
    """Cells of one crop, coordinates shifted by ``offset_xy`` (e.g. the crop's level-0 origin).

    ``class_probs`` (e.g. a per-nucleus crop classifier) maps cell centres (N, 2; x, y in crop pixels) to class
    probabilities (N, C); a cell's probabilities are then ``class_mix`` times those plus ``1 - class_mix`` times
    the dense class head's mean over its region.
    """
    cfg = cfg or PostConfig()
    scale = 1.0
    if cfg.work_scale != 1.0:
        scale = maps.centre.shape[1] / max(1, int(round(maps.centre.shape[1] * cfg.work_scale)))
        maps, cfg = _rescaled(maps, cfg)
    labels, peaks = instance_labels(maps, cfg)
    ox, oy = offset_xy
    cells: list[CellPrediction] = []
    n = len(peaks)
    if n == 0:
        return cells
    flat = labels.ravel()
    counts = np.maximum(np.bincount(flat, minlength=n + 1)[1:], 1)
    probs = np.stack([np.bincount(flat, weights=c.ravel(), minlength=n + 1)[1:] for c in maps.cls], axis=1)
    probs /= counts[:, None]
    xy = _refine(maps.centre, peaks)
    # pixel centres: (i + 0.5) / s - 0.5 in the full-resolution frame
    xy_full = (xy + 0.5) * scale - 0.5
    if class_probs is not None:
        extra = np.asarray(class_probs(xy_full), dtype=np.float64)
        if extra.shape != probs.shape:
            raise ValueError(f"class_probs returned {extra.shape}, expected {probs.shape}")
        probs = class_mix * extra + (1.0 - class_mix) * probs
    ks = np.argmax(probs, axis=1)
    conf = maps.centre[peaks[:, 0], peaks[:, 1]].astype(np.float64) * probs[np.arange(n), ks]
    for i, sl in enumerate(ndimage.find_objects(labels)):
        if sl is None:
            continue
        x, y = xy_full[i]
        poly = _outline(labels[sl] == i + 1)
        if len(poly) < 3:
            verts = [(x - 1 + ox, y - 1 + oy), (x + 1 + ox, y - 1 + oy), (x + 1 + ox, y + 1 + oy), (x - 1 + ox, y + 1 + oy)]
        else:
            poly = (poly + [sl[1].start + 0.5, sl[0].start + 0.5]) * scale - 0.5
            if scale > 1.0:  # boundary pixel centres sit half a coarse pixel inside the true outline
                out = poly - poly.mean(axis=0)
                poly = poly + out / np.maximum(np.hypot(out[:, :1], out[:, 1:]), 1e-6) * (scale - 1.0) * PUSH
            poly = poly + [ox, oy]
            verts = poly.tolist()
        cells.append(CellPrediction(x=float(x + ox), y=float(y + oy), cls=int(ks[i]), confidence=float(conf[i]),
                                    polygon=tuple(map(tuple, verts))))
    return cells
