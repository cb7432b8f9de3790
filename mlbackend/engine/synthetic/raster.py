"""Rasterising nucleus outlines into per-region label images (or point splats at coarse downsamples)."""

from __future__ import annotations

import cv2
import numpy as np

SHIFT = 4  # cv2 sub-pixel bits
SPLAT_BELOW_PX = 1.5  # mean radius (output px) under which cells are splatted rather than drawn


def to_canvas(points: np.ndarray, ox: float, oy: float, d: float) -> np.ndarray:
    """Level-0 points -> cv2 canvas coords (pixel i spans [i, i+1) in level-0 units / d; centres at i)."""
    out = (np.asarray(points, dtype=np.float64) - np.array([ox, oy])) / d - 0.5
    return out


def visible(centres: np.ndarray, reach: np.ndarray, w: int, h: int) -> np.ndarray:
    """Which cells (canvas centres, reach in canvas px) can touch a w x h canvas."""
    return (
        (centres[:, 0] + reach >= -1) & (centres[:, 0] - reach <= w)
        & (centres[:, 1] + reach >= -1) & (centres[:, 1] - reach <= h)
    )


def label_image(polys: np.ndarray, h: int, w: int) -> np.ndarray:
    """int32 (h, w): 0 for background, i + 1 inside polygon i (later polygons are drawn on top)."""
    lab = np.zeros((h, w), dtype=np.int32)
    pts = np.round(polys * (1 << SHIFT)).astype(np.int32)
    for i in range(pts.shape[0]):
        cv2.fillPoly(lab, [pts[i]], int(i + 1), cv2.LINE_8, SHIFT)
    return lab


def outline_image(polys: np.ndarray, h: int, w: int, thickness: int) -> np.ndarray:
    """int32 (h, w) labels of closed outlines of the given thickness (i + 1 on polygon i's outline)."""
    lab = np.zeros((h, w), dtype=np.int32)
    pts = np.round(polys * (1 << SHIFT)).astype(np.int32)
    for i in range(pts.shape[0]):
        cv2.polylines(lab, [pts[i]], True, int(i + 1), max(1, int(thickness)), cv2.LINE_8, SHIFT)
    return lab


def edges(lab: np.ndarray) -> np.ndarray:
    """Boolean mask of labelled pixels that touch a different label (4-neighbourhood)."""
    e = np.zeros(lab.shape, dtype=bool)
    e[1:, :] |= lab[1:, :] != lab[:-1, :]
    e[:-1, :] |= lab[:-1, :] != lab[1:, :]
    e[:, 1:] |= lab[:, 1:] != lab[:, :-1]
    e[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    return e & (lab > 0)


def splat(centres: np.ndarray, values: np.ndarray, h: int, w: int) -> np.ndarray:
    """float32 (h, w): bilinear scatter of per-cell values at canvas centres (sums where cells pile up)."""
    out = np.zeros(h * w, dtype=np.float64)
    if centres.shape[0]:
        x, y = centres[:, 0], centres[:, 1]
        x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        fx, fy = x - x0, y - y0
        for dx, dy, wt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            xi, yi = x0 + dx, y0 + dy
            ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            out += np.bincount(yi[ok] * w + xi[ok], weights=(values * wt)[ok], minlength=h * w)
    return out.reshape(h, w).astype(np.float32)


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (optical point-spread) in place of a sharper raster."""
    if sigma <= 0.05:
        return img
    return cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
