"""Robust fit of block shifts to an affine plus a smooth, fold-free, capped displacement grid."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from annotation.imaging.transform import DisplacementGrid, SlideTransform

from .blocks import BlockMatches
from .field import fade_from_data, fit_field, grid_geometry

log = logging.getLogger(__name__)

MIN_NCC = 0.15
MIN_PSR = 6.0
GRID_STEP_PER_SPACING = 1.0  # grid nodes about as dense as the blocks


@dataclass(frozen=True)
class FitOutcome:
    transform: SlideTransform
    inliers: np.ndarray  # (N,) bool over the blocks
    residual_px: np.ndarray  # (N,) distance of each block's measurement to the fitted model (H&E px)
    notes: tuple[str, ...] = ()


def consistent_blocks(m: BlockMatches, tol_px: float) -> np.ndarray:
    """Blocks with a clear peak whose shift agrees with the median of their neighbours."""
    good = (m.ncc >= MIN_NCC) & (m.psr >= MIN_PSR)
    idx = np.flatnonzero(good)
    if len(idx) < 4:
        return np.zeros(len(m.ncc), bool)
    tree = cKDTree(m.centres[idx])
    k = min(7, len(idx))
    _, nb = tree.query(m.centres[idx], k=k)
    med = np.median(m.shifts[idx][nb[:, 1:]], axis=1)
    dev = np.linalg.norm(m.shifts[idx] - med, axis=1)
    out = np.zeros(len(m.ncc), bool)
    out[idx] = dev <= tol_px
    return out


def fit_affine(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares 3x3 affine src -> dst with a few Huber reweighting rounds."""
    x = np.column_stack([src, np.ones(len(src))])
    wt = w.astype(float).copy()
    a = np.eye(3)
    for _ in range(4):
        sw = np.sqrt(wt)[:, None]
        sol, *_ = np.linalg.lstsq(x * sw, dst * sw, rcond=None)
        a[:2] = sol.T
        r = np.linalg.norm(x @ sol - dst, axis=1)
        scale = 1.4826 * np.median(r) + 1e-6
        wt = w * np.minimum(1.0, 2.0 * scale / (r + 1e-12))
    return a


def fit_transform(t: SlideTransform, m: BlockMatches, he_size: tuple[int, int], tol_px: float,
                  max_disp_px: float, local: bool) -> FitOutcome:
    """Refit affine and grid so that T(p) = T_current(p + shift) at consistent blocks."""
    inl = consistent_blocks(m, tol_px)
    if inl.sum() < 6:
        return FitOutcome(t, inl, np.full(len(inl), np.inf), ("too few consistent blocks",))
    p = m.centres[inl]
    q = t.map_points(p + m.shifts[inl])
    w = np.clip(m.ncc[inl], 0.05, 1.0)
    a = fit_affine(p, q, w)
    if np.linalg.det(a[:2, :2]) * np.linalg.det(t.matrix[:2, :2]) <= 0:
        return FitOutcome(t, inl, np.full(len(inl), np.inf), ("refit flipped orientation",))
    ainv = np.linalg.inv(a)
    resid = (np.column_stack([q, np.ones(len(q))]) @ ainv.T)[:, :2] - p
    notes: list[str] = []
    grid = None
    if local and inl.sum() >= 12:
        grid, gnotes = fit_grid(p, resid, w, he_size, max_disp_px)
        notes += gnotes
    new = SlideTransform.from_matrix(a, grid)
    allq = t.map_points(m.centres + m.shifts)
    err = np.linalg.norm(_inverse_affine_points(a, allq) - _forward_grid(new, m.centres), axis=1)
    return FitOutcome(new, inl, err, tuple(notes))


def _inverse_affine_points(a: np.ndarray, q: np.ndarray) -> np.ndarray:
    return (np.column_stack([q, np.ones(len(q))]) @ np.linalg.inv(a).T)[:, :2]


def _forward_grid(t: SlideTransform, p: np.ndarray) -> np.ndarray:
    if t.grid is None:
        return p
    dx, dy = t.grid.sample(p[:, 0], p[:, 1])
    return p + np.column_stack([dx, dy])


def fit_grid(p: np.ndarray, resid: np.ndarray, w: np.ndarray, he_size: tuple[int, int],
             max_disp_px: float) -> tuple[DisplacementGrid | None, list[str]]:
    """Robust penalised fit of residual displacements onto the stored grid, faded away from data."""
    spacing = float(np.median(cKDTree(p).query(p, k=2)[0][:, 1]))
    g = grid_geometry(he_size, spacing * GRID_STEP_PER_SPACING)
    fade = fade_from_data(g, p, spacing)
    dx, dy, _ = fit_field(p, resid, w, g, active=fade > 1e-4)
    dx, dy = dx * fade, dy * fade
    notes = []
    mag = np.hypot(dx, dy)
    if mag.max(initial=0) > max_disp_px:
        notes.append("displacement capped")
        f = np.minimum(1.0, max_disp_px / (mag + 1e-12))
        dx, dy = dx * f, dy * f
    step = g.step
    for _ in range(8):
        if min_jacobian(dx, dy, step) > 0.2:
            break
        dx, dy = dx * 0.7, dy * 0.7
        notes.append("fold removed")
    if min_jacobian(dx, dy, step) <= 0.2:
        return None, notes + ["grid dropped"]
    return DisplacementGrid(step_px=float(step), dx=dx.astype(np.float32), dy=dy.astype(np.float32)), notes


def min_jacobian(dx: np.ndarray, dy: np.ndarray, step: float) -> float:
    """Smallest determinant of the Jacobian of p -> p + d(p) over the grid (<= 0 means a fold)."""
    if dx.shape[0] < 2 or dx.shape[1] < 2:
        return 1.0
    dxx, dxy = np.gradient(dx, step, axis=1), np.gradient(dx, step, axis=0)
    dyx, dyy = np.gradient(dy, step, axis=1), np.gradient(dy, step, axis=0)
    return float(((1 + dxx) * (1 + dyy) - dxy * dyx).min())
