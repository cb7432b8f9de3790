"""Refine an automatic registration with manual landmark pairs (H&E level-0 xy, IF level-0 xy)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from annotation.imaging.transform import DisplacementGrid, SlideTransform

from .types import RegistrationResult

LandmarkPairs = Sequence[tuple[tuple[float, float], tuple[float, float]]]


def _correction(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3x3 correction in IF space: translation (1 pair), similarity (2) or affine (3+)."""
    c = np.eye(3)
    if len(src) == 1:
        c[:2, 2] = dst[0] - src[0]
        return c
    if len(src) == 2:
        s = (src[:, 0] + 1j * src[:, 1])
        d = (dst[:, 0] + 1j * dst[:, 1])
        a = (d[1] - d[0]) / (s[1] - s[0]) if s[1] != s[0] else 1.0
        b = d[0] - a * s[0]
        return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag], [0, 0, 1.0]])
    x = np.column_stack([src, np.ones(len(src))])
    sol, *_ = np.linalg.lstsq(x, dst, rcond=None)
    c[:2] = sol.T
    return c


def refine_with_landmarks(result: RegistrationResult, pairs: LandmarkPairs, *, local: bool = True,
                          radius_px: float | None = None) -> RegistrationResult:
    """Correct the affine from landmarks (kept on top of the automatic grid), then optionally bend locally."""
    if not pairs:
        return result
    he = np.array([p[0] for p in pairs], dtype=np.float64).reshape(-1, 2)
    ifp = np.array([p[1] for p in pairs], dtype=np.float64).reshape(-1, 2)
    t = result.transform
    before = np.linalg.norm(t.map_points(he) - ifp, axis=1)
    corr = _correction(t.map_points(he), ifp)
    if np.linalg.det(corr[:2, :2]) <= 0:
        corr = np.eye(3)  # landmarks imply a mirror: a mistake in the pairs, not a correction
    new = SlideTransform(SlideTransform.from_matrix(corr @ t.matrix).affine, t.grid, dict(t.meta))
    if local and len(pairs) >= 1:
        new = _bend(new, he, ifp, radius_px)
    after = np.linalg.norm(new.map_points(he) - ifp, axis=1)
    metrics = dict(result.metrics, n_landmarks=len(pairs), landmark_error_before_px=float(np.median(before)),
                   landmark_error_after_px=float(np.median(after)))
    warnings = list(result.warnings) + ["refined with manual landmarks"]
    status = result.status if result.status != "failed" or len(pairs) < 3 else "low_confidence"
    reason = result.reason if status != "low_confidence" or result.status != "failed" else \
        "automatic registration failed; transform from manual landmarks only"
    return replace(result, transform=new, status=status, reason=reason, metrics=metrics, warnings=warnings)


def _bend(t: SlideTransform, he: np.ndarray, ifp: np.ndarray, radius_px: float | None) -> SlideTransform:
    """Add Gaussian-weighted grid corrections so the transform passes through the landmarks."""
    a_inv = np.linalg.inv(t.matrix)
    want = (np.column_stack([ifp, np.ones(len(ifp))]) @ a_inv.T)[:, :2]  # p + d(p) needed, H&E px
    cur = he.copy()
    grid = t.grid
    if grid is not None:
        dx, dy = grid.sample(he[:, 0], he[:, 1])
        cur = he + np.column_stack([dx, dy])
    delta = want - cur
    span = np.ptp(he, axis=0).max() if len(he) > 1 else 1000.0
    radius = radius_px or max(span / max(np.sqrt(len(he)), 1.0), 50.0)
    if grid is None:
        step = radius / 3.0
        hi = he.max(axis=0) + 3 * radius
        rows, cols = int(hi[1] // step) + 2, int(hi[0] // step) + 2
        grid = DisplacementGrid(step, np.zeros((rows, cols), np.float32), np.zeros((rows, cols), np.float32))
    gy, gx = np.mgrid[0 : grid.dx.shape[0], 0 : grid.dx.shape[1]]
    nodes = np.column_stack([grid.origin_x + gx.ravel() * grid.step_px, grid.origin_y + gy.ravel() * grid.step_px])
    k = np.exp(-((nodes[:, None, :] - he[None, :, :]) ** 2).sum(-1) / (2 * radius**2))
    kk = np.exp(-((he[:, None, :] - he[None, :, :]) ** 2).sum(-1) / (2 * radius**2))
    coef = np.linalg.solve(kk + 1e-3 * np.eye(len(he)), delta)
    add = k @ coef
    new_grid = DisplacementGrid(grid.step_px, (grid.dx + add[:, 0].reshape(grid.dx.shape)).astype(np.float32),
                                (grid.dy + add[:, 1].reshape(grid.dy.shape)).astype(np.float32),
                                grid.origin_x, grid.origin_y)
    return SlideTransform(t.affine, new_grid, dict(t.meta))
