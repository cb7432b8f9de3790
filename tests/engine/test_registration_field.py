"""Displacement field fit: robust, smooth, exactly the stored grid format the overlay samples."""

from __future__ import annotations

import numpy as np

from annotation.imaging.transform import DisplacementGrid, SlideTransform
from mlbackend.engine.registration.field import bilinear_matrix, fit_field, grid_geometry
from mlbackend.engine.registration.fine import fit_grid


def _field(p: np.ndarray) -> np.ndarray:
    x, y = p[:, 0] / 4000.0, p[:, 1] / 3000.0
    return np.column_stack([4 * np.sin(2 * np.pi * x) * np.cos(np.pi * y), 3 * np.cos(2 * np.pi * y) + 2 * x])


def test_bilinear_matrix_matches_displacement_grid_sampling() -> None:
    g = grid_geometry((1000, 700), 90.0)
    rng = np.random.default_rng(0)
    dx, dy = rng.normal(size=(g.rows, g.cols)), rng.normal(size=(g.rows, g.cols))
    grid = DisplacementGrid(g.step, dx.astype(np.float32), dy.astype(np.float32))
    p = rng.uniform(-50, 1100, (400, 2))
    b = bilinear_matrix(g, p)
    sx, sy = grid.sample(p[:, 0], p[:, 1])
    assert np.abs(b @ grid.dx.ravel().astype(float) - sx).max() < 1e-5
    assert np.abs(b @ grid.dy.ravel().astype(float) - sy).max() < 1e-5


def test_fit_recovers_a_smooth_field_despite_noise_and_outliers() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0, [4000, 3000], (1500, 2))
    r = _field(p) + rng.normal(0, 0.2, (1500, 2))
    bad = rng.choice(1500, 60, replace=False)
    r[bad] += rng.normal(0, 25, (60, 2))  # 4 % wild blocks
    g = grid_geometry((4000, 3000), 100.0)
    dx, dy, wt = fit_field(p, r, np.ones(len(p)), g)
    grid = DisplacementGrid(g.step, dx.astype(np.float32), dy.astype(np.float32))
    q = rng.uniform(200, [3800, 2800], (500, 2))
    err = np.hypot(*(np.column_stack(grid.sample(q[:, 0], q[:, 1])) - _field(q)).T)
    assert np.median(err) < 0.15 and np.percentile(err, 90) < 0.35
    assert wt[bad].mean() < 0.2 * np.delete(wt, bad).mean()  # outliers lost their say


def test_fit_grid_serialises_and_fades_away_from_data() -> None:
    rng = np.random.default_rng(2)
    p = rng.uniform(0, [2000, 1500], (600, 2))  # data only in the top-left part of a 6000 x 4500 slide
    grid, notes = fit_grid(p, _field(p) * 0.5, np.ones(len(p)), (6000, 4500), max_disp_px=50.0)
    assert grid is not None and not any("dropped" in n for n in notes)
    far_x, far_y = grid.sample(np.array([5800.0]), np.array([4300.0]))
    assert abs(far_x[0]) < 1e-3 and abs(far_y[0]) < 1e-3
    back = SlideTransform.from_dict(SlideTransform(grid=grid).to_dict())
    assert np.abs(back.map_points(p) - SlideTransform(grid=grid).map_points(p)).max() < 1e-3
