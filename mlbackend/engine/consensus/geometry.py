"""Small-polygon geometry by rasterisation with OpenCV (shapely is not a dependency)."""

from __future__ import annotations

import cv2
import numpy as np

from mlbackend.engine.consensus.types import Ring

_MAX_RASTER_PX = 96


def ring_centroid(ring: Ring) -> tuple[float, float]:
    """Area centroid of a ring (falls back to the vertex mean for degenerate rings)."""
    pts = np.asarray(ring, dtype=np.float64)
    if len(pts) < 3:
        return float(pts[:, 0].mean()), float(pts[:, 1].mean())
    x, y = pts[:, 0], pts[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2.0
    if abs(area) < 1e-9:
        return float(x.mean()), float(y.mean())
    cx = ((x + xn) * cross).sum() / (6.0 * area)
    cy = ((y + yn) * cross).sum() / (6.0 * area)
    return float(cx), float(cy)


def ring_radius(ring: Ring) -> float:
    """Largest distance from the ring's vertex mean to a vertex (a bounding radius in px)."""
    pts = np.asarray(ring, dtype=np.float64)
    return float(np.sqrt(((pts - pts.mean(axis=0)) ** 2).sum(axis=1)).max())


def polygon_iou(a: Ring, b: Ring) -> float:
    """Intersection over union of two rings, rasterised on their joint bounding box (<= 96 px a side)."""
    pa = np.asarray(a, dtype=np.float64)
    pb = np.asarray(b, dtype=np.float64)
    if len(pa) < 3 or len(pb) < 3:
        return 0.0
    lo = np.minimum(pa.min(axis=0), pb.min(axis=0))
    hi = np.maximum(pa.max(axis=0), pb.max(axis=0))
    if (np.maximum(pa.min(axis=0), pb.min(axis=0)) > np.minimum(pa.max(axis=0), pb.max(axis=0))).any():
        return 0.0
    scale = min(1.0, _MAX_RASTER_PX / max(float((hi - lo).max()), 1e-9))
    # Upsample tiny shapes so a few-pixel polygon still has a meaningful area.
    scale = max(scale, 24.0 / max(float((hi - lo).max()), 1e-9)) if (hi - lo).max() < 24 else scale
    shape = (int(np.ceil((hi[1] - lo[1]) * scale)) + 2, int(np.ceil((hi[0] - lo[0]) * scale)) + 2)
    ma = _raster(pa, lo, scale, shape)
    mb = _raster(pb, lo, scale, shape)
    union = np.count_nonzero(ma | mb)
    return float(np.count_nonzero(ma & mb) / union) if union else 0.0


def _raster(pts: np.ndarray, lo: np.ndarray, scale: float, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    # cv2 draws integer vertices; shift=4 keeps 1/16 px precision.
    fixed = np.round(((pts - lo) * scale + 0.5) * 16.0).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [fixed], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def best_mean_iou_member(rings: list[Ring]) -> int:
    """Index of the ring with the highest mean IoU against the others (0 for a single ring)."""
    n = len(rings)
    if n <= 2:
        return 0
    iou = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            iou[i, j] = iou[j, i] = polygon_iou(rings[i], rings[j])
    return int(np.argmax(iou.sum(axis=1)))
