"""Smooth displacement field from scattered block shifts: a penalised, robust least-squares fit on the grid.

The unknowns are the node values of the stored ``DisplacementGrid`` itself, so the fitted field is exactly
what the overlay tiles sample (bilinear between nodes). The fit minimises

    sum_i w_i |B d (p_i) - r_i|^2  +  lam * |D2 d|^2  +  eps * |d|^2

where ``B`` is the bilinear interpolation matrix of the grid at the block centres, ``D2`` the second
differences (xx, yy and the cross term: a thin-plate-like bending penalty that leaves affine trends free)
and ``eps`` a tiny ridge. Huber reweighting rounds make single bad blocks harmless. Cost: a sparse
factorisation over the nodes (tens of thousands at most), independent of the number of blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu
from scipy.spatial import cKDTree

MAX_NODES_PER_SIDE = 200  # grid of at most 200 x 200 nodes (~0.6 MB as JSON floats)
SMOOTHING = 0.5  # bending weight relative to the data term (per node, in node units)
HUBER_K = 2.0  # residuals beyond HUBER_K robust sigmas are down-weighted
ROUNDS = 3


@dataclass(frozen=True)
class GridGeometry:
    step: float
    rows: int
    cols: int
    origin_x: float = 0.0
    origin_y: float = 0.0

    @property
    def n(self) -> int:
        return self.rows * self.cols


def grid_geometry(size: tuple[int, int], spacing_px: float, min_step_px: float = 16.0) -> GridGeometry:
    """A grid over the whole slide with a node about every block spacing (bounded node count)."""
    w, h = size
    step = max(spacing_px, min_step_px, max(w, h) / (MAX_NODES_PER_SIDE - 1))
    return GridGeometry(float(step), int(np.ceil(h / step)) + 1, int(np.ceil(w / step)) + 1)


def bilinear_matrix(g: GridGeometry, p: np.ndarray) -> sp.csr_matrix:
    """(N, nodes) sparse matrix of the bilinear weights DisplacementGrid.sample uses (clamped at edges)."""
    gx = np.clip((p[:, 0] - g.origin_x) / g.step, 0, g.cols - 1)
    gy = np.clip((p[:, 1] - g.origin_y) / g.step, 0, g.rows - 1)
    x0 = np.minimum(np.floor(gx).astype(np.int64), max(g.cols - 2, 0))
    y0 = np.minimum(np.floor(gy).astype(np.int64), max(g.rows - 2, 0))
    fx, fy = gx - x0, gy - y0
    rows = np.repeat(np.arange(len(p)), 4)
    cols = np.stack([y0 * g.cols + x0, y0 * g.cols + x0 + 1, (y0 + 1) * g.cols + x0, (y0 + 1) * g.cols + x0 + 1], 1)
    vals = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], 1)
    return sp.csr_matrix((vals.ravel(), (rows, cols.ravel())), shape=(len(p), g.n))


def bending_matrix(g: GridGeometry) -> sp.csr_matrix:
    """Stacked second-difference operators (xx, yy, sqrt(2) xy) over the node grid."""
    idx = np.arange(g.n).reshape(g.rows, g.cols)
    parts = []
    if g.cols >= 3:
        parts.append(_stencil(g.n, [idx[:, :-2], idx[:, 1:-1], idx[:, 2:]], [1.0, -2.0, 1.0]))
    if g.rows >= 3:
        parts.append(_stencil(g.n, [idx[:-2], idx[1:-1], idx[2:]], [1.0, -2.0, 1.0]))
    if g.rows >= 2 and g.cols >= 2:
        s = np.sqrt(2.0)
        parts.append(_stencil(g.n, [idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]], [s, -s, -s, s]))
    if not parts:
        return sp.csr_matrix((0, g.n))
    return sp.vstack(parts).tocsr()


def _stencil(n: int, members: list[np.ndarray], coeffs: list[float]) -> sp.csr_matrix:
    m = members[0].size
    rows = np.tile(np.arange(m), len(members))
    cols = np.concatenate([a.ravel() for a in members])
    vals = np.repeat(np.asarray(coeffs, float), m)
    return sp.csr_matrix((vals, (rows, cols)), shape=(m, n))


def fit_field(p: np.ndarray, r: np.ndarray, w: np.ndarray, g: GridGeometry, smoothing: float = SMOOTHING,
              active: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node values (rows, cols) of dx and dy fitting displacements ``r`` at points ``p``; and final weights.

    Only ``active`` nodes (a (rows, cols) bool mask, e.g. those near data) are unknowns; the rest stay 0.
    """
    act = np.ones(g.n, bool) if active is None else np.asarray(active, bool).ravel()
    b = bilinear_matrix(g, p)[:, act]
    d2 = bending_matrix(g)
    d2 = d2[np.asarray(abs(d2)[:, ~act].sum(axis=1)).ravel() == 0][:, act]  # stencils wholly on active nodes
    k = int(act.sum())
    reg = (d2.T @ d2).tocsc()
    w0 = np.clip(np.asarray(w, float), 1e-3, None)
    lam = smoothing * float(w0.sum()) / max(k, 1)
    eye = sp.identity(k, format="csc") * (1e-4 * lam + 1e-9)
    wt = w0.copy()
    sol = np.zeros((k, 2))
    for _ in range(ROUNDS):
        bw = b.multiply(wt[:, None]).tocsr()
        a = (b.T @ bw).tocsc() + lam * reg + eye
        # symmetric positive definite: no pivoting needed, a fill-reducing symmetric ordering
        lu = splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        sol = lu.solve(np.asarray(bw.T @ r))
        e = np.linalg.norm(b @ sol - r, axis=1)
        sigma = 1.4826 * float(np.median(e)) + 1e-3
        wt = w0 * np.minimum(1.0, HUBER_K * sigma / (e + 1e-12))
    full = np.zeros((g.n, 2))
    full[act] = sol
    return full[:, 0].reshape(g.rows, g.cols), full[:, 1].reshape(g.rows, g.cols), wt


def fade_from_data(g: GridGeometry, p: np.ndarray, spacing: float) -> np.ndarray:
    """(rows, cols) factor 1 near the blocks falling smoothly to 0 beyond ~1.5 block spacings from any."""
    gx, gy = np.meshgrid(g.origin_x + np.arange(g.cols) * g.step, g.origin_y + np.arange(g.rows) * g.step)
    dist = cKDTree(p).query(np.column_stack([gx.ravel(), gy.ravel()]), k=1)[0].reshape(g.rows, g.cols)
    return np.exp(-np.clip(dist / spacing - 1.5, 0, None) ** 2)
