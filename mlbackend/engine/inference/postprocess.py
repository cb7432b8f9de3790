"""Turn network maps into cells: centre peaks as seeds, seeded watershed for outlines, class by mean logits."""

from __future__ import annotations

from dataclasses import dataclass

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


def _refine(centre: np.ndarray, r: int, c: int) -> tuple[float, float]:
    """Sub-pixel peak position: the heat-weighted mean of its 3x3 neighbourhood, as (x, y)."""
    r0, c0 = max(r - 1, 0), max(c - 1, 0)
    win = centre[r0 : r + 2, c0 : c + 2].astype(np.float64)
    yy, xx = np.mgrid[r0 : r0 + win.shape[0], c0 : c0 + win.shape[1]]
    s = win.sum()
    return (float((xx * win).sum() / s), float((yy * win).sum() / s)) if s > 0 else (float(c), float(r))


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


def _outline(mask: np.ndarray, x0: int, y0: int) -> tuple[tuple[float, float], ...]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return ()
    c = max(contours, key=cv2.contourArea).reshape(-1, 2)
    return tuple((float(px + x0), float(py + y0)) for px, py in c)


def cells_from_maps(maps: Maps, cfg: PostConfig | None = None, offset_xy: tuple[float, float] = (0.0, 0.0)) -> list[CellPrediction]:
    """Cells of one crop, coordinates shifted by ``offset_xy`` (e.g. the crop's level-0 origin)."""
    cfg = cfg or PostConfig()
    labels, peaks = instance_labels(maps, cfg)
    ox, oy = offset_xy
    cells: list[CellPrediction] = []
    n = len(peaks)
    flat = labels.ravel()
    counts = np.maximum(np.bincount(flat, minlength=n + 1)[1:], 1)
    probs = np.stack([np.bincount(flat, weights=c.ravel(), minlength=n + 1)[1:] for c in maps.cls], axis=1)
    probs /= counts[:, None]
    for i, sl in enumerate(ndimage.find_objects(labels)):
        if sl is None:
            continue
        k = int(np.argmax(probs[i]))
        r, c = peaks[i]
        x, y = _refine(maps.centre, int(r), int(c))
        poly = _outline(labels[sl] == i + 1, sl[1].start, sl[0].start)
        if len(poly) < 3:
            poly = ((x - 1, y - 1), (x + 1, y - 1), (x + 1, y + 1), (x - 1, y + 1))
        poly = tuple((px + ox, py + oy) for px, py in poly)
        conf = float(maps.centre[r, c]) * float(probs[i, k])
        cells.append(CellPrediction(x=x + ox, y=y + oy, cls=k, confidence=conf, polygon=poly))
    return cells
