"""Interactive segmentation: classical haematoxylin watershed, or the model's foreground and HoVer maps."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.filters import threshold_otsu
from skimage.segmentation import watershed

from mlbackend.engine.inference.maps import predict_maps
from mlbackend.engine.inference.postprocess import PostConfig, find_peaks, instance_energy
from mlbackend.engine.nets import CellNet
from mlbackend.engine.stain.augment import rgb_to_haematoxylin

logger = logging.getLogger(__name__)

Point = tuple[float, float]


@dataclass(frozen=True)
class ClickResult:
    """The outline (list of [x, y] in crop pixels), how it was made and how long it took."""

    polygon: list[list[float]]
    method: str  # "model" or "classical"
    area_px: int
    seconds: float


def _window(shape: tuple[int, int], x: float, y: float, half: int, multiple: int = 1) -> tuple[int, int, int, int]:
    h, w = shape
    size_x = min(w, 2 * half)
    size_y = min(h, 2 * half)
    if multiple > 1:
        size_x, size_y = (max(multiple, s - s % multiple) for s in (size_x, size_y))
    x0 = int(np.clip(round(x) - size_x // 2, 0, max(w - size_x, 0)))
    y0 = int(np.clip(round(y) - size_y // 2, 0, max(h - size_y, 0)))
    return x0, y0, size_x, size_y


def _markers(shape: tuple[int, int], click: Point, negatives: Sequence[Point], others: np.ndarray) -> np.ndarray:
    """1 at the click, 3+ at competing seeds (negative clicks, other cells' peaks); 0 elsewhere."""
    h, w = shape
    m = np.zeros(shape, np.int32)
    for k, (r, c) in enumerate(others):
        m[r, c] = 3 + k
    base = 3 + len(others)
    for k, (nx, ny) in enumerate(negatives):
        if 0 <= nx < w and 0 <= ny < h:
            cv2.circle(m, (int(round(nx)), int(round(ny))), 2, int(base + k), -1)
    cv2.circle(m, (int(round(click[0])), int(round(click[1]))), 2, 1, -1)
    return m


def _competitors(peaks: np.ndarray, click: Point, min_dist: float) -> np.ndarray:
    if len(peaks) == 0:
        return peaks.reshape(0, 2)
    d = np.hypot(peaks[:, 1] - click[0], peaks[:, 0] - click[1])
    return peaks[d > min_dist]


def _classical(rgb: np.ndarray, click: Point, negatives: Sequence[Point], min_dist: float) -> np.ndarray:
    hema = cv2.GaussianBlur(rgb_to_haematoxylin(rgb), (0, 0), 1.0)
    cx, cy = int(round(click[0])), int(round(click[1]))
    thr = threshold_otsu(hema) if float(hema.max()) > float(hema.min()) else float(hema.max())
    thr = min(thr, 0.7 * float(hema[cy, cx]))
    mask = ndimage.binary_fill_holes(ndimage.binary_opening(hema > thr, iterations=1))
    mask[cy, cx] = True
    dist = ndimage.distance_transform_edt(mask)
    peaks = peak_local_max(dist, min_distance=max(int(min_dist), 1), threshold_abs=2.0, exclude_border=False)
    markers = _markers(mask.shape, click, negatives, _competitors(peaks, click, min_dist))
    markers[~mask & (markers == 0)] = 2
    labels = watershed(-dist, markers=markers)
    return labels == 1


def _model(net: CellNet, rgb: np.ndarray, click: Point, negatives: Sequence[Point], min_dist: float) -> np.ndarray:
    maps = predict_maps(net, rgb)
    peaks = find_peaks(maps.centre, PostConfig(min_distance_px=max(int(min_dist), 1)))
    markers = _markers(maps.fg.shape, click, negatives, _competitors(peaks, click, min_dist))
    mask = maps.fg > 0.5
    markers[~mask & (markers == 0)] = 2
    return watershed(instance_energy(maps), markers=markers) == 1


def _polygon(mask: np.ndarray, x0: int, y0: int) -> list[list[float]]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return []
    c = max(contours, key=cv2.contourArea)
    c = cv2.approxPolyDP(c, 0.7, True).reshape(-1, 2)
    return [[float(px + x0), float(py + y0)] for px, py in c]


def segment_click(
    rgb: np.ndarray,
    click_xy: Point,
    negative_xy: Sequence[Point] = (),
    net: CellNet | None = None,
    *,
    window_px: int = 96,
    min_cell_distance_px: float = 10.0,
) -> ClickResult:
    """Outline the cell under ``click_xy`` in an RGB crop; uses ``net`` if given, else the classical path."""
    t0 = time.perf_counter()
    multiple = net.multiple if net is not None else 1
    x0, y0, w, h = _window(rgb.shape[:2], click_xy[0], click_xy[1], window_px // 2, multiple)
    win = np.ascontiguousarray(rgb[y0 : y0 + h, x0 : x0 + w, :3])
    click = (float(np.clip(click_xy[0] - x0, 0, w - 1)), float(np.clip(click_xy[1] - y0, 0, h - 1)))
    neg = [(nx - x0, ny - y0) for nx, ny in negative_xy]
    method = "classical"
    mask = None
    if net is not None:
        mask = _model(net, win, click, neg, min_cell_distance_px)
        method = "model"
        if mask.sum() < 10:  # model saw no cell here: fall back rather than return a speck
            mask, method = None, "classical"
    if mask is None:
        mask = _classical(win, click, neg, min_cell_distance_px)
    poly = _polygon(mask, x0, y0)
    return ClickResult(polygon=poly, method=method, area_px=int(mask.sum()), seconds=time.perf_counter() - t0)
