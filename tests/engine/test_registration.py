"""Registration engine: recovery of known transforms on toy pairs, bad input, bounded reads."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from annotation.imaging.transform import SlideTransform
from mlbackend.engine.registration import (
    ArraySlide,
    RegistrationConfig,
    preview_image,
    refine_with_landmarks,
    register_pair,
)
from mlbackend.engine.registration.toy import toy_pair

SIZE = 384


def _rigid(deg: float, tx: float, ty: float, mirror: bool = False, size: int = SIZE) -> SlideTransform:
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    centre = np.array([[1, 0, -size / 2], [0, 1, -size / 2], [0, 0, 1.0]])
    back = np.array([[1, 0, size / 2 + tx], [0, 1, size / 2 + ty], [0, 0, 1.0]])
    flip = np.diag([-1.0, 1.0, 1.0]) if mirror else np.eye(3)
    return SlideTransform.from_matrix(back @ rot @ flip @ centre)


def _error_px(result_t: SlideTransform, truth: SlideTransform, size: int = SIZE) -> np.ndarray:
    pts = np.random.default_rng(3).uniform(size * 0.35, size * 0.65, (200, 2))
    return np.linalg.norm(result_t.map_points(pts) - truth.map_points(pts), axis=1)


@pytest.fixture(scope="module")
def rotated():
    truth = _rigid(37.0, 12.0, -9.0)
    he, ifs = toy_pair(SIZE, truth, seed=1)
    calls: list[tuple[float, str]] = []
    result = register_pair(he, ifs, progress=lambda f, m: calls.append((f, m)))
    return truth, he, ifs, result, calls


def test_arbitrary_rotation_is_recovered_to_subpixel(rotated):
    truth, _, _, result, _ = rotated
    assert result.status == "ok", result.reason
    assert np.median(_error_px(result.transform, truth)) < 0.5


def test_result_reports_metrics_qa_and_serialises(rotated):
    _, _, _, result, _ = rotated
    m = result.metrics
    assert m["similarity_after"] > m["similarity_before"]
    assert m["residual_um"] < 1.0 and m["he_mpp"] == 1.0 and m["seconds"] > 0
    assert result.qa is not None and result.qa.error_um.ndim == 2 and np.isfinite(result.qa.error_um).any()
    data = json.loads(json.dumps(result.to_dict()))
    again = SlideTransform.from_dict(data["transform"])
    pts = np.array([[100.0, 200.0], [250.0, 150.0]])
    assert np.allclose(again.map_points(pts), result.transform.map_points(pts), atol=1e-2)


def test_progress_is_reported_in_order_up_to_one(rotated):
    calls = rotated[4]
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(calls) >= 4


def test_mirrored_section_is_recovered():
    truth = _rigid(-20.0, 5.0, 8.0, mirror=True)
    he, ifs = toy_pair(SIZE, truth, seed=2)
    result = register_pair(he, ifs)
    assert result.status == "ok", result.reason
    assert np.linalg.det(result.transform.matrix[:2, :2]) < 0
    assert np.median(_error_px(result.transform, truth)) < 0.5


def test_unrelated_pair_is_never_ok():
    he, _ = toy_pair(256, seed=4)
    _, other = toy_pair(256, _rigid(30.0, 0, 0, size=256), seed=5)
    result = register_pair(he, other)
    assert result.status != "ok"
    assert result.reason


@pytest.mark.parametrize("blank", ["H&E", "IF"])
def test_blank_slide_fails_with_no_tissue(blank):
    he, ifs = toy_pair(256, seed=6)
    if blank == "H&E":
        he = ArraySlide(np.full((256, 256, 3), 245, np.uint8), 1.0, ("R", "G", "B"))
    else:
        noise = np.random.default_rng(0).normal(100, 5, (256, 256, 3)).clip(0).astype(np.uint16)
        ifs = ArraySlide(noise, 1.0, ("DAPI", "CD3", "AF"))
    result = register_pair(he, ifs)
    assert result.status == "failed"
    assert "no tissue" in result.reason and blank in result.reason


def test_missing_nuclear_channel_fails_listing_channels():
    he, ifs = toy_pair(256, seed=7, channel_names=("CD3", "CD8", "AF"))
    result = register_pair(he, ifs)
    assert result.status == "failed"
    assert "DAPI" in result.reason and "CD8" in result.reason


def test_nuclear_channel_name_is_configurable():
    truth = _rigid(0.0, 6.0, -4.0)
    he, ifs = toy_pair(256, truth, seed=8, channel_names=("CD3", "Hoechst 33342", "AF"))
    result = register_pair(he, ifs, config=RegistrationConfig(nuclear_channel="Hoechst 33342"))
    assert result.status == "ok", result.reason
    assert np.median(_error_px(result.transform, truth, 256)) < 0.5


def test_missing_mpp_warns_and_falls_back():
    truth = _rigid(10.0, 0.0, 5.0)
    he, ifs = toy_pair(256, truth, seed=9)
    ifs.mpp = None
    result = register_pair(he, ifs)
    assert any("pixel size" in w for w in result.warnings)
    assert result.metrics["if_mpp"] == he.mpp
    assert np.median(_error_px(result.transform, truth, 256)) < 0.5


class _HugeLazySlide:
    """A 40,000 px pyramid whose pixels are computed on demand from a small image; records every read."""

    def __init__(self, small: ArraySlide, side: int, channels: tuple[str, ...]):
        self.small = small.levels[0]
        self.side = side
        self.level_dimensions = [(side // d, side // d) for d in (1, 4, 16, 64)]
        self.level_downsamples = [1.0, 4.0, 16.0, 64.0]
        self.mpp = 0.5
        self.channel_names = channels
        self.reads: list[tuple[int, int, int, int, int]] = []

    def read_region(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        self.reads.append((level, x, y, w, h))
        k = self.small.shape[0] / (self.side / self.level_downsamples[level])  # small px per level px
        m = np.float32([[k, 0, x * k], [0, k, y * k]])
        out = cv2.warpAffine(self.small, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        return out.reshape(h, w, -1)


def test_huge_pair_reads_only_low_levels_and_bounded_blocks():
    side = 40_000
    he_small, if_small = toy_pair(625, _rigid(15.0, 3.0, 2.0, size=625), seed=10)
    he = _HugeLazySlide(he_small, side, ("R", "G", "B"))
    ifs = _HugeLazySlide(if_small, side, ("DAPI", "CD3", "AF"))
    bound = 1024 * 1024
    cfg = RegistrationConfig(max_blocks=24, fine_mpp=(), target_error_um=9.6, max_read_px=bound, coarse_max_px=512)
    result = register_pair(he, ifs, config=cfg)
    for reads in (he.reads, ifs.reads):
        assert reads and max(w * h for _, _, _, w, h in reads) <= bound
        assert sum(w * h for _, _, _, w, h in reads) < 0.01 * side * side
    assert result.status != "failed", result.reason


def test_landmarks_correct_a_wrong_affine():
    truth = _rigid(5.0, 4.0, -3.0)
    he, ifs = toy_pair(SIZE, truth, seed=11)
    auto = register_pair(he, ifs)
    shifted = SlideTransform.from_matrix(np.array([[1, 0, 9.0], [0, 1, -7.0], [0, 0, 1]]) @ auto.transform.matrix)
    bad = type(auto)(shifted, "low_confidence", "test", dict(auto.metrics), [], auto.qa)
    he_pts = np.array([[100.0, 100.0], [280.0, 110.0], [120.0, 290.0], [270.0, 260.0]])
    pairs = [(tuple(p), tuple(q)) for p, q in zip(he_pts, truth.map_points(he_pts))]
    fixed = refine_with_landmarks(bad, pairs)
    assert np.median(_error_px(fixed.transform, truth)) < 1.0 < np.median(_error_px(bad.transform, truth))
    assert fixed.metrics["landmark_error_after_px"] < 0.5
    assert "refined with manual landmarks" in fixed.warnings


def test_preview_is_small_rgb_and_shows_alignment(rotated):
    truth, he, ifs, result, _ = rotated
    good = preview_image(he, ifs, result.transform, max_px=128, mode="overlay")
    assert good.shape == (128, 128, 3) and good.dtype == np.uint8
    board = preview_image(he, ifs, result.transform, max_px=128)
    assert board.shape == (128, 128, 3) and not np.array_equal(board, good)
