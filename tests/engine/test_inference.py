"""Post-processing of maps into cells and whole-region tiled inference with stitching."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mlbackend.engine.inference import Maps, PostConfig, cells_from_maps, predict_region, tile_grid, wsi
from mlbackend.engine.metrics import detection_f1
from mlbackend.engine.nets import CellNet, NetConfig
from mlbackend.engine.training import ModelBundle


def _oracle_maps(centres: np.ndarray, classes: np.ndarray, shape: tuple[int, int], r: float = 7.0) -> Maps:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    fg = np.zeros(shape, np.float32)
    centre = np.zeros(shape, np.float32)
    cls = np.zeros((3,) + shape, np.float32)
    hv = np.zeros((2,) + shape, np.float32)
    for (x, y), k in zip(centres, classes):
        d2 = (xx - x) ** 2 + (yy - y) ** 2
        inside = d2 <= r * r
        fg[inside] = 1
        cls[k][inside] = 1
        hv[0][inside] = ((xx - x) / r)[inside]
        hv[1][inside] = ((yy - y) / r)[inside]
        centre = np.maximum(centre, np.exp(-d2 / 8.0))
    cls[0][fg == 0] = 1
    return Maps(fg=fg, centre=centre, hv=hv, cls=cls)


def test_cells_from_oracle_maps_recover_centres_classes_and_outlines() -> None:
    centres = np.array([[20.0, 20.0], [40.0, 22.0], [60.0, 60.0], [34.0, 34.0]])
    classes = np.array([0, 1, 2, 1])
    cells = cells_from_maps(_oracle_maps(centres, classes, (80, 80)), PostConfig(min_distance_px=5))
    assert len(cells) == 4
    got = np.array([[c.x, c.y] for c in cells])
    for (x, y), k in zip(centres, classes):
        j = int(np.argmin(np.hypot(got[:, 0] - x, got[:, 1] - y)))
        assert np.hypot(got[j, 0] - x, got[j, 1] - y) < 1.0
        assert cells[j].cls == k
        poly = np.array(cells[j].polygon)
        assert np.abs(np.hypot(poly[:, 0] - x, poly[:, 1] - y) - 7.0).max() < 2.5
        assert 0 < cells[j].confidence <= 1


def test_offset_shifts_cells_into_slide_coordinates() -> None:
    maps = _oracle_maps(np.array([[20.0, 20.0]]), np.array([2]), (40, 40))
    [cell] = cells_from_maps(maps, offset_xy=(1000.0, 500.0))
    assert cell.x == pytest.approx(1020.0, abs=0.5) and cell.y == pytest.approx(520.0, abs=0.5)
    assert min(p[0] for p in cell.polygon) > 1000


def test_tile_grid_covers_region_with_flush_last_tiles() -> None:
    tiles = tile_grid((10, 20, 300, 130), 128, 32)
    covered = np.zeros((130, 300), bool)
    for x, y, w, h in tiles:
        assert 10 <= x and x + w <= 310 and 20 <= y and y + h <= 150
        covered[y - 20 : y - 20 + h, x - 10 : x - 10 + w] = True
    assert covered.all()


class _DiscSlide:
    """A slide of dark discs on white glass; the red channel encodes the class."""

    def __init__(self, size: tuple[int, int], centres: np.ndarray, classes: np.ndarray) -> None:
        w, h = size
        self.img = np.full((h, w, 3), 255, np.uint8)
        yy, xx = np.mgrid[:h, :w]
        for (x, y), k in zip(centres, classes):
            self.img[(xx - x) ** 2 + (yy - y) ** 2 <= 36] = (40 + 60 * k, 30, 120)
        self.reads = 0

    @property
    def dimensions(self) -> tuple[int, int]:
        return self.img.shape[1], self.img.shape[0]

    def read_region(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        assert level == 0
        self.reads += 1
        return self.img[y : y + h, x : x + w]


def _oracle_batch(net, batch: np.ndarray, device=None) -> list[Maps]:  # noqa: ANN001
    out = []
    for x in batch:
        dark = x[2] < 0.9
        dist = ndimage.distance_transform_edt(dark)
        centre = (dist / 6.0) ** 4
        k = np.clip(np.round((x[0] * 255 - 40) / 60), 0, 2).astype(int)
        cls = np.stack([(k == i) & dark for i in range(3)]).astype(np.float32)
        out.append(Maps(fg=dark.astype(np.float32), centre=centre.astype(np.float32),
                        hv=np.zeros((2,) + dark.shape, np.float32), cls=cls))
    return out


def test_region_inference_finds_cells_on_tile_borders_exactly_once(monkeypatch) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    grid = np.array([[x, y] for x in range(15, 400, 26) for y in range(15, 300, 26)], float)
    centres = grid + rng.uniform(-3, 3, grid.shape)
    classes = rng.integers(0, 3, len(centres))
    slide = _DiscSlide((400, 300), centres, classes)
    monkeypatch.setattr(wsi, "predict_batch", _oracle_batch)
    bundle = ModelBundle(net=CellNet(NetConfig(width=4, depth=1)), class_names=("a", "b", "c"))
    calls = []
    res = predict_region(bundle, slide, tile_px=96, overlap_px=32, batch_size=3,
                         post=PostConfig(min_distance_px=5), progress=lambda d, t: calls.append((d, t)))
    got = np.array([[c.x, c.y] for c in res.cells])
    s = detection_f1(centres, got, 3.0)
    assert s.fp == 0 and s.fn == 0
    assert calls[-1] == (res.tiles_total, res.tiles_total)
    assert res.class_names == ("a", "b", "c")


def test_region_inference_limits_to_the_requested_rectangle_and_skips_glass(monkeypatch) -> None:  # noqa: ANN001
    centres = np.array([[50.0, 50.0], [250.0, 50.0]])
    slide = _DiscSlide((300, 300), centres, np.array([0, 1]))
    monkeypatch.setattr(wsi, "predict_batch", _oracle_batch)
    bundle = ModelBundle(net=CellNet(NetConfig(width=4, depth=1)), class_names=("a", "b", "c"))
    res = predict_region(bundle, slide, region=(0, 0, 150, 300), tile_px=96, overlap_px=16, min_tissue=0.005)
    assert [(round(c.x), round(c.y)) for c in res.cells] == [(50, 50)]
    assert res.tiles_run < res.tiles_total  # empty glass tiles are not run through the network


def test_untrained_network_runs_end_to_end_on_a_real_reader_shape() -> None:
    slide = _DiscSlide((130, 100), np.array([[30.0, 30.0]]), np.array([1]))
    bundle = ModelBundle(net=CellNet(NetConfig(width=4, depth=1)), class_names=("a", "b", "c"))
    res = predict_region(bundle, slide, tile_px=64, overlap_px=16)
    assert res.tiles_total == len(tile_grid((0, 0, 130, 100), 64, 16))
    assert all(0 <= c.cls < 3 for c in res.cells)


def test_if_input_model_reads_registered_if_tiles_alongside_he() -> None:
    slide = _DiscSlide((100, 100), np.array([[30.0, 30.0]]), np.array([1]))
    if_slide = _DiscSlide((100, 100), np.array([[30.0, 30.0]]), np.array([0]))
    bundle = ModelBundle(net=CellNet(NetConfig(width=4, depth=1, if_channels=3)), class_names=("a", "b", "c"))
    res = predict_region(bundle, slide, tile_px=64, overlap_px=16, if_reader=if_slide)
    assert if_slide.reads == res.tiles_run > 0  # IF is read only for tiles that hold tissue
    assert slide.reads == res.tiles_total


def test_half_resolution_post_processing_matches_full_resolution() -> None:
    centres = np.array([[20.0, 20.0], [44.0, 22.0], [60.0, 60.0], [30.0, 50.0]])
    classes = np.array([0, 1, 2, 1])
    maps = _oracle_maps(centres, classes, (80, 80), r=8.0)
    full = cells_from_maps(maps, PostConfig(min_distance_px=6))
    half = cells_from_maps(maps, PostConfig(min_distance_px=6, work_scale=0.5), offset_xy=(100.0, 0.0))
    assert len(half) == len(full) == 4
    for (x, y), k in zip(centres, classes):
        j = int(np.argmin([np.hypot(c.x - 100 - x, c.y - y) for c in half]))
        assert np.hypot(half[j].x - 100 - x, half[j].y - y) < 1.5
        assert half[j].cls == k
        poly = np.array(half[j].polygon) - [100.0, 0.0]
        assert np.abs(np.hypot(poly[:, 0] - x, poly[:, 1] - y) - 8.0).max() < 2.5
