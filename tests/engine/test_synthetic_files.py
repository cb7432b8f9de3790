"""Written synthetic pairs: OpenSlide/tifffile readability, metadata, truth and transform on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openslide
import orjson
import pytest
import tifffile

from annotation.imaging.transform import SlideTransform
from mlbackend.engine.synthetic import CHANNELS, CLASSES, PairPaths, Scene, write_pair
from mlbackend.engine.synthetic.__main__ import main as cli_main

W, H, SEED = 1200, 900, 5


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> PairPaths:
    return write_pair(tmp_path_factory.mktemp("pair"), W, H, SEED)


def test_he_opens_in_openslide_with_levels_mpp_and_objective(pair: PairPaths) -> None:
    slide = openslide.OpenSlide(str(pair.he_path))
    assert slide.dimensions == (W, H)
    assert slide.level_count == 4  # 1200 -> 600 -> 300 -> 150 (long side <= 256)
    assert slide.level_dimensions[1] == (600, 450)
    assert slide.level_downsamples[:3] == pytest.approx((1.0, 2.0, 4.0), rel=1e-3)
    assert float(slide.properties["openslide.mpp-x"]) == pytest.approx(0.25)
    assert float(slide.properties["openslide.mpp-y"]) == pytest.approx(0.25)
    assert float(slide.properties["openslide.objective-power"]) == pytest.approx(40)
    assert slide.properties[openslide.PROPERTY_NAME_VENDOR] == "aperio"
    slide.close()


def test_he_pixels_on_disk_match_the_in_memory_render(pair: PairPaths) -> None:
    scene = Scene(width=W, height=H, seed=SEED)
    slide = openslide.OpenSlide(str(pair.he_path))
    for level, (x, y) in ((0, (500, 400)), (1, (200, 200))):
        d = int(slide.level_downsamples[level])
        on_disk = np.asarray(slide.read_region((x, y), level, (192, 160)).convert("RGB")).astype(int)
        in_memory = scene.render_he(x, y, 192, 160, downsample=d).astype(int)
        assert np.abs(on_disk - in_memory).mean() < 4.0  # JPEG loss only
    slide.close()


def test_if_pixels_on_disk_match_the_in_memory_render(pair: PairPaths) -> None:
    scene = Scene(width=W, height=H, seed=SEED)
    with tifffile.TiffFile(pair.if_path) as tif:
        level0 = tif.series[0].levels[0].asarray()
        level1 = tif.series[0].levels[1].asarray()
    x, y = 500, 400
    assert np.array_equal(level0[:, y : y + 100, x : x + 120], scene.render_if(x, y, 120, 100))
    assert np.array_equal(level1[:, 100:150, 200:260], scene.render_if(400, 200, 60, 50, downsample=2))


def test_if_is_pyramidal_ome_tiff_with_channel_names_and_pixel_size(pair: PairPaths) -> None:
    with tifffile.TiffFile(pair.if_path) as tif:
        assert tif.is_ome
        series = tif.series[0]
        assert series.axes == "CYX"
        assert series.shape == (len(CHANNELS), pair.if_size[1], pair.if_size[0])
        assert series.dtype == np.uint16
        assert len(series.levels) >= 3
        assert series.levels[1].shape[1:] == (-(-pair.if_size[1] // 2), -(-pair.if_size[0] // 2))
        assert tif.pages[0].is_tiled
        xml = tif.ome_metadata
    for name in CHANNELS:
        assert f'Name="{name}"' in xml
    assert f'PhysicalSizeX="{pair.mpp_if}"' in xml and f'PhysicalSizeY="{pair.mpp_if}"' in xml


def test_transform_json_restores_the_scene_transform(pair: PairPaths) -> None:
    data = json.loads(pair.transform_path.read_text())
    assert data["mpp_he"] == 0.25 and data["mpp_if"] == 0.325
    restored = SlideTransform.from_dict(data)
    scene_t = Scene(width=W, height=H, seed=SEED).transform
    pts = np.array([[0.0, 0.0], [W / 2, H / 3], [W - 1, H - 1]])
    assert np.abs(restored.map_points(pts) - scene_t.map_points(pts)).max() < 1e-2


def _features(pair: PairPaths) -> list[dict]:
    data = orjson.loads(pair.truth_path.read_bytes())
    assert data["type"] == "FeatureCollection"
    return data["features"]


def test_truth_has_one_feature_per_cell_with_class_polygon_and_centre(pair: PairPaths) -> None:
    features = _features(pair)
    assert len(features) == pair.n_cells > 50
    assert len({f["id"] for f in features}) == len(features)
    assert {f["properties"]["class"] for f in features} == set(CLASSES)
    ring = features[0]["geometry"]["coordinates"][0]
    assert features[0]["geometry"]["type"] == "Polygon" and ring[0] == ring[-1]
    scene_ids = {c.id for c in Scene(width=W, height=H, seed=SEED).cells_in(0, 0, W, H)}
    assert scene_ids == {f["id"] for f in features}


def test_truth_lines_up_with_he_and_if_pixels(pair: PairPaths) -> None:
    features = _features(pair)
    he = np.asarray(openslide.OpenSlide(str(pair.he_path)).read_region((0, 0), 0, (W, H)).convert("RGB"))
    red_od = -np.log(np.maximum(he[..., 0].astype(float), 1) / 255)
    big = [f for f in features if f["properties"]["radius_px"] > 8]
    yy, xx = np.mgrid[-8:9, -8:9]

    def body_od(f: dict) -> float:  # mean over the nucleus body: fine cues (margination) pale some centres
        cx, cy = (int(v) for v in f["properties"]["centroid"])
        win = red_od[cy - 8 : cy + 9, cx - 8 : cx + 9]
        return float(win[np.hypot(xx, yy) <= 0.7 * f["properties"]["radius_px"]].mean())

    h, w = red_od.shape
    dark = [body_od(f) for f in big if 8 <= f["properties"]["centroid"][0] < w - 9 and 8 <= f["properties"]["centroid"][1] < h - 9]
    assert np.mean(np.array(dark) > np.median(red_od) + 0.3) > 0.9
    dapi = tifffile.imread(pair.if_path, key=0).astype(float)
    inside = [f for f in features if f["properties"]["in_if"]]
    at = [dapi[int(f["properties"]["centroid_if"][1]), int(f["properties"]["centroid_if"][0])] for f in inside]
    assert np.mean(np.array(at) > np.median(dapi) + 3000) > 0.9


def test_same_seed_writes_identical_files(tmp_path: Path) -> None:
    first = write_pair(tmp_path / "a", 700, 500, 8)
    again = write_pair(tmp_path / "b", 700, 500, 8)
    other = write_pair(tmp_path / "c", 700, 500, 9)
    assert again.he_path.read_bytes() == first.he_path.read_bytes()
    assert again.truth_path.read_bytes() == first.truth_path.read_bytes()
    assert again.transform_path.read_bytes() == first.transform_path.read_bytes()
    assert np.array_equal(tifffile.imread(again.if_path), tifffile.imread(first.if_path))
    assert other.he_path.read_bytes() != first.he_path.read_bytes()


def test_options_mirror_partial_overlap_uint8_and_step_four(tmp_path: Path) -> None:
    paths = write_pair(
        tmp_path, 1100, 600, 2, pyramid_step=4, if_dtype=np.uint8, mirror=True, if_overlap=0.6, he_tile=512
    )
    slide = openslide.OpenSlide(str(paths.he_path))
    assert slide.level_dimensions[:2] == ((1100, 600), (275, 150))
    assert slide.level_downsamples[1] == pytest.approx(4.0)
    full = Scene(width=1100, height=600, seed=2, mirror=True).transform
    assert np.linalg.det(full.matrix[:2, :2]) < 0
    with tifffile.TiffFile(paths.if_path) as tif:
        assert tif.series[0].dtype == np.uint8
    props = [f["properties"] for f in _features_of(paths)]
    share = np.mean([p["in_if"] for p in props])
    assert 0.2 < share < 0.9


def _features_of(paths: PairPaths) -> list[dict]:
    return orjson.loads(paths.truth_path.read_bytes())["features"]


def test_cli_writes_a_pair_and_prints_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--out", str(tmp_path), "--width", "400", "--height", "300", "--seed", "9"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert Path(out["he_path"]).exists() and Path(out["if_path"]).exists() and out["n_cells"] >= 0
