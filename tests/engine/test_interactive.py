"""Click-to-outline returns the clicked cell's polygon, with or without a trained model."""

from __future__ import annotations

import numpy as np
from skimage.draw import polygon as draw_polygon

from mlbackend.engine.interactive import segment_click
from mlbackend.engine.metrics import dice
from mlbackend.engine.nets import CellNet, NetConfig


def _nuclei(centres: list[tuple[int, int]], r: int = 10, size: int = 128) -> np.ndarray:
    img = np.full((size, size, 3), (235, 170, 205), np.uint8)  # eosin-pink stroma
    yy, xx = np.mgrid[:size, :size]
    for x, y in centres:
        img[(xx - x) ** 2 + (yy - y) ** 2 <= r * r] = (80, 50, 150)  # haematoxylin-dark nucleus
    return img


def _mask(poly: list[list[float]], size: int = 128) -> np.ndarray:
    m = np.zeros((size, size), bool)
    p = np.asarray(poly)
    rr, cc = draw_polygon(p[:, 1], p[:, 0], (size, size))
    m[rr, cc] = True
    return m


def _disc(x: int, y: int, r: int = 10, size: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (xx - x) ** 2 + (yy - y) ** 2 <= r * r


def test_classical_click_outlines_the_clicked_nucleus_only() -> None:
    img = _nuclei([(40, 40), (90, 80)])
    res = segment_click(img, (43.0, 38.0))
    assert res.method == "classical"
    assert all(len(p) == 2 for p in res.polygon) and len(res.polygon) >= 4
    assert dice(_mask(res.polygon), _disc(40, 40)) > 0.85
    assert not _mask(res.polygon)[80, 90]


def test_touching_nuclei_are_split_and_negative_click_limits_the_outline() -> None:
    img = _nuclei([(50, 60), (68, 60)])
    res = segment_click(img, (48.0, 60.0))
    m = _mask(res.polygon)
    assert m[60, 48] and not m[60, 72]
    res_neg = segment_click(img, (48.0, 60.0), negative_xy=[(62.0, 60.0)])
    assert _mask(res_neg.polygon).sum() <= m.sum()
    assert not _mask(res_neg.polygon)[60, 64]


def test_click_near_the_crop_edge_returns_polygon_in_crop_coordinates() -> None:
    img = _nuclei([(6, 120)])
    res = segment_click(img, (6.0, 120.0))
    p = np.asarray(res.polygon)
    assert p[:, 0].min() >= 0 and p[:, 1].max() <= 127
    assert dice(_mask(res.polygon), _disc(6, 120)) > 0.8


def test_model_path_runs_and_falls_back_when_the_model_sees_nothing() -> None:
    net = CellNet(NetConfig(width=4, depth=2)).eval()
    img = _nuclei([(64, 64)])
    res = segment_click(img, (64.0, 64.0), net=net)
    assert res.method in {"model", "classical"}
    assert len(res.polygon) >= 3
    assert _mask(res.polygon)[64, 64]
