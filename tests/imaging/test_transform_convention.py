"""The one pixel convention of SlideTransform (pixel i centred at i) and the generator's conversion to it."""

from __future__ import annotations

import numpy as np

from annotation.imaging.transform import DisplacementGrid, SlideTransform
from mlbackend.engine.synthetic import Scene


def _warped() -> SlideTransform:
    rng = np.random.default_rng(0)
    grid = DisplacementGrid(37.0, rng.normal(0, 3, (6, 7)).astype(np.float32),
                            rng.normal(0, 3, (6, 7)).astype(np.float32), origin_x=-5.0, origin_y=3.0)
    return SlideTransform.from_matrix(np.array([[0.9, -0.3, 40.0], [0.35, 0.95, -12.0]]), grid)


def test_shifted_frame_is_exact_and_invertible() -> None:
    t = _warped()
    p = np.random.default_rng(1).uniform(-20, 250, (500, 2))
    for delta in (0.5, -0.5, 3.25):
        s = t.shifted_frame(delta)
        assert np.abs(s.map_points(p) - (t.map_points(p + delta) - delta)).max() < 1e-9
        assert np.abs(s.shifted_frame(-delta).map_points(p) - t.map_points(p)).max() < 1e-9
    assert SlideTransform.from_dict(t.shifted_frame(0.5).to_dict()).map_points(p).shape == (500, 2)


def test_scene_transform_uses_pixel_index_convention() -> None:
    """The generator renders in continuous frames (pixel i covers [i, i + 1)); its public transform is converted."""
    scene = Scene(width=900, height=700, seed=3, rotation_deg=31.0, warp_um=2.0)
    p = np.random.default_rng(2).uniform(0, 700, (200, 2))
    expected = scene.continuous_transform.map_points(p + 0.5) - 0.5
    assert np.abs(scene.transform.map_points(p) - expected).max() < 1e-9
    # the conversion matters: at this rotation and scale it moves points by a good part of a pixel
    assert np.abs(scene.continuous_transform.map_points(p) - expected).max() > 0.2
