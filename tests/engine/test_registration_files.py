"""Registration from slide files written by the synthetic generator, read through annotation.imaging."""

from __future__ import annotations

import numpy as np

from mlbackend.engine.registration import register_pair
from mlbackend.engine.synthetic import Scene, write_pair


def test_written_pair_registers_from_paths_to_submicron(tmp_path):
    paths = write_pair(tmp_path, 1024, 768, seed=3, rotation_deg=40.0)
    result = register_pair(paths.he_path, paths.if_path)
    assert result.status == "ok", result.reason
    truth = Scene(width=1024, height=768, seed=3, rotation_deg=40.0).transform
    pts = np.random.default_rng(0).uniform([200, 200], [800, 560], (200, 2))
    expected = truth.map_points(pts + 0.5) - 0.5  # generator puts pixel centres at i + 0.5
    err_um = np.linalg.norm(result.transform.map_points(pts) - expected, axis=1) * paths.mpp_if
    assert np.median(err_um) < 0.5 and np.percentile(err_um, 90) < 1.0
    assert result.metrics["he_mpp"] == paths.mpp_he and result.metrics["if_mpp"] == paths.mpp_if
