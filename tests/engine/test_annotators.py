"""Simulated annotators behave as their profiles say."""

from __future__ import annotations

import numpy as np
import pytest

from mlbackend.engine.annotators import (
    GroundTruthCells,
    annotate_region,
    expert_profiles,
    lay_profiles,
    realised_error_rates,
)


def _gt(n: int = 400, seed: int = 0) -> GroundTruthCells:
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, 3, n)
    xy = rng.uniform(0, 2000, (n, 2))
    theta = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    # Classes differ a little in size and elongation, with overlapping spreads (as in H&E).
    a = rng.normal(14 + 2 * (cls == 0) - 2 * (cls == 2), 2.0)
    b = a / np.exp(rng.normal(0.3 + 0.2 * (cls == 1), 0.15))
    poly = np.stack([xy[:, :1] + a[:, None] * np.cos(theta), xy[:, 1:] + b[:, None] * np.sin(theta)], axis=-1)
    return GroundTruthCells(xy=xy, cls=cls, polygons=poly)


def test_lay_annotators_with_overlay_make_fewer_class_errors_than_experts_without() -> None:
    gt = _gt()
    rng = np.random.default_rng(1)
    lay = realised_error_rates(gt, annotate_region(gt, lay_profiles(1)[0], rng), 12.0)
    expert = realised_error_rates(gt, annotate_region(gt, expert_profiles(1)[0], rng), 12.0)
    assert lay["class_error"] < 0.12
    assert expert["class_error"] > lay["class_error"] + 0.1
    assert expert["click_offset_px"] < lay["click_offset_px"]


def test_sparse_tasks_cover_a_fraction_and_exhaustive_tasks_nearly_all() -> None:
    gt = _gt()
    p = lay_profiles(1, coverage=0.5, spurious_rate=0.0)[0]
    sparse = annotate_region(gt, p, np.random.default_rng(2))
    full = annotate_region(gt, p, np.random.default_rng(2), exhaustive=True)
    assert len(sparse) / len(gt) == pytest.approx(0.5, abs=0.08)
    assert len(full) / len(gt) > 0.9
    assert {lab.annotator for lab in sparse} == {"lay1"}


def test_spurious_clicks_and_outlines_follow_the_profile() -> None:
    gt = _gt()
    p = lay_profiles(1, spurious_rate=0.2, polygon_fraction=1.0)[0]
    labels = annotate_region(gt, p, np.random.default_rng(3), extent=(2000, 2000))
    outlined = [lab for lab in labels if lab.is_polygon]
    assert len(labels) > 1.1 * 0.6 * len(gt)
    assert len(outlined) == pytest.approx(0.6 * len(gt), rel=0.15)


def test_same_seed_gives_same_labels() -> None:
    gt = _gt()
    p = expert_profiles(1)[0]
    assert annotate_region(gt, p, np.random.default_rng(5)) == annotate_region(gt, p, np.random.default_rng(5))
