"""Engine metrics agree with the independent cellseg-metrics package and with brute force."""

from __future__ import annotations

import itertools

import cellseg_metrics as csm
import numpy as np
import pytest
from scipy import ndimage

from mlbackend.engine.metrics import (
    aggregated_jaccard_index,
    class_f1,
    detection_f1,
    dice,
    match_points,
    panoptic_quality,
    pixel_class_f1,
)


def _random_instances(rng: np.random.Generator, shape: tuple[int, int] = (64, 64), n: int = 12) -> np.ndarray:
    """Random blobs labelled as instances; ids deliberately non-consecutive."""
    seeds = np.zeros(shape, dtype=np.int32)
    ys = rng.integers(0, shape[0], n)
    xs = rng.integers(0, shape[1], n)
    seeds[ys, xs] = rng.permutation(np.arange(1, n + 1)) * 7
    dist, (iy, ix) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    labels = seeds[iy, ix]
    radius = rng.uniform(3, 9)
    labels[dist > radius] = 0
    return labels


@pytest.mark.parametrize("seed", range(8))
def test_dice_matches_cellseg_metrics(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = _random_instances(rng), _random_instances(rng)
    ref = csm.dice_coef(*csm.get_stats((a > 0).astype(np.uint8), (b > 0).astype(np.uint8)))
    assert dice(a, b) == pytest.approx(float(ref), abs=1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_panoptic_quality_matches_cellseg_metrics(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    a = _random_instances(rng)
    b = np.roll(a, rng.integers(-3, 4), axis=1) if seed % 2 else _random_instances(rng)
    ours = panoptic_quality(a, b)
    ref = csm.panoptic_quality(a, b)
    assert ours.pq == pytest.approx(float(ref["pq"]), abs=1e-6)
    assert ours.sq == pytest.approx(float(ref["sq"]), abs=1e-6)
    assert ours.dq == pytest.approx(float(ref["dq"]), abs=1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_aji_intersection_matching_matches_cellseg_metrics(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    a, b = _random_instances(rng), _random_instances(rng, n=15)
    ref = float(csm.aggregated_jaccard_index(a, b))
    assert aggregated_jaccard_index(a, b, match="intersection") == pytest.approx(ref, abs=1e-6)


def test_aji_is_one_for_identical_and_drops_for_split_instances() -> None:
    a = np.zeros((20, 20), dtype=np.int32)
    a[2:10, 2:10] = 1
    a[12:18, 12:18] = 2
    assert aggregated_jaccard_index(a, a) == pytest.approx(1.0)
    split = a.copy()
    split[2:10, 6:10] = 5
    assert aggregated_jaccard_index(a, split) < 0.9


@pytest.mark.parametrize("seed", range(5))
def test_pixel_class_f1_matches_cellseg_metrics(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    t = rng.integers(0, 4, (32, 32))
    p = np.where(rng.random((32, 32)) < 0.6, t, rng.integers(0, 4, (32, 32)))
    ours = pixel_class_f1(t, p, 4)
    ref = csm.f1score_multiclass(t, p, 4)
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def _brute_force_max_matches(t: np.ndarray, p: np.ndarray, r: float) -> int:
    best = 0
    d = np.linalg.norm(t[:, None] - p[None], axis=2)
    for perm in itertools.permutations(range(len(p)), min(len(t), len(p))):
        best = max(best, sum(1 for i, j in enumerate(perm) if d[i, j] <= r))
    return best


@pytest.mark.parametrize("seed", range(10))
def test_point_matching_finds_maximum_number_of_pairs(seed: int) -> None:
    rng = np.random.default_rng(400 + seed)
    t = rng.uniform(0, 20, (5, 2))
    p = rng.uniform(0, 20, (5, 2))
    pairs = match_points(t, p, 6.0)
    assert len({i for i, _ in pairs}) == len(pairs) == len({j for _, j in pairs})
    assert all(np.linalg.norm(t[i] - p[j]) <= 6.0 for i, j in pairs)
    assert len(pairs) == _brute_force_max_matches(t, p, 6.0)


def test_detection_f1_counts_misses_and_false_positives() -> None:
    t = np.array([[0, 0], [10, 10], [20, 20]], dtype=float)
    p = np.array([[1, 0], [10, 13], [50, 50]], dtype=float)
    s = detection_f1(t, p, radius_px=2.0)
    assert (s.tp, s.fp, s.fn) == (1, 2, 2)
    assert s.f1 == pytest.approx(2 / 6)


def test_class_f1_penalises_wrong_class_on_matched_cells() -> None:
    t = np.array([[0, 0], [10, 10], [20, 20], [30, 30]], dtype=float)
    tc = np.array([0, 0, 1, 1])
    pc = np.array([0, 1, 1, 1])
    s = class_f1(t, tc, t.copy(), pc, radius_px=1.0, num_classes=3)
    assert s.per_class[0] == pytest.approx(2 * 1 / (2 * 1 + 0 + 1))
    assert s.per_class[1] == pytest.approx(2 * 2 / (2 * 2 + 1 + 0))
    assert np.isnan(s.per_class[2])
    assert s.macro == pytest.approx((2 / 3 + 0.8) / 2)
