"""Point detection metrics: one-to-one matching within a radius, detection F1 and per-class F1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class DetectionScores:
    """Counts and F1 of a point matching."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class ClassScores:
    """Per-class detection F1 (NaN for classes absent from truth and prediction) and their macro mean."""

    per_class: tuple[float, ...]
    macro: float


def _scores(tp: int, fp: int, fn: int) -> DetectionScores:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return DetectionScores(tp=tp, fp=fp, fn=fn, precision=precision, recall=recall, f1=f1)


def match_points(true_xy: np.ndarray, pred_xy: np.ndarray, radius_px: float) -> list[tuple[int, int]]:
    """One-to-one pairs (true index, pred index) within ``radius_px``: most pairs, then least total distance."""
    t = np.asarray(true_xy, dtype=np.float64).reshape(-1, 2)
    p = np.asarray(pred_xy, dtype=np.float64).reshape(-1, 2)
    if len(t) == 0 or len(p) == 0:
        return []
    close = cKDTree(t).sparse_distance_matrix(cKDTree(p), radius_px, output_type="coo_matrix")
    if close.nnz == 0:
        return []
    rows, cols = close.row, close.col
    # Split the bipartite graph into connected components and solve each one on its own (small) matrix.
    n_t = len(t)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols + n_t)), shape=(n_t + len(p),) * 2)
    _, comp = connected_components(graph, directed=False)
    pairs: list[tuple[int, int]] = []
    dist = np.asarray(close.data)
    order = np.argsort(comp[rows], kind="stable")
    rows, cols, dist = rows[order], cols[order], dist[order]
    starts = np.flatnonzero(np.r_[True, np.diff(comp[rows]) != 0, True])
    big = 1e6 * (radius_px + 1.0)
    for a, b in zip(starts[:-1], starts[1:]):
        r, c, d = rows[a:b], cols[a:b], dist[a:b]
        ur, ri = np.unique(r, return_inverse=True)
        uc, ci = np.unique(c, return_inverse=True)
        cost = np.full((len(ur), len(uc)), big)
        cost[ri, ci] = d
        ar, ac = linear_sum_assignment(cost)
        ok = cost[ar, ac] < big
        pairs.extend((int(ur[i]), int(uc[j])) for i, j in zip(ar[ok], ac[ok]))
    return sorted(pairs)


def detection_f1(true_xy: np.ndarray, pred_xy: np.ndarray, radius_px: float) -> DetectionScores:
    """Class-agnostic detection F1 with one-to-one matching within ``radius_px`` (1.0 when both are empty)."""
    n_t = len(np.asarray(true_xy).reshape(-1, 2))
    n_p = len(np.asarray(pred_xy).reshape(-1, 2))
    tp = len(match_points(true_xy, pred_xy, radius_px))
    return _scores(tp, n_p - tp, n_t - tp)


def class_f1(
    true_xy: np.ndarray,
    true_cls: np.ndarray,
    pred_xy: np.ndarray,
    pred_cls: np.ndarray,
    radius_px: float,
    num_classes: int,
) -> ClassScores:
    """Per-class F1: a true cell of class k counts as found only if matched to a prediction of class k."""
    pairs = match_points(true_xy, pred_xy, radius_px)
    t_cls = np.asarray(true_cls, dtype=np.int64).ravel()
    p_cls = np.asarray(pred_cls, dtype=np.int64).ravel()
    per_class: list[float] = []
    for k in range(num_classes):
        tp = sum(1 for i, j in pairs if t_cls[i] == k and p_cls[j] == k)
        n_t = int((t_cls == k).sum())
        n_p = int((p_cls == k).sum())
        per_class.append(float("nan") if n_t + n_p == 0 else _scores(tp, n_p - tp, n_t - tp).f1)
    present = [f for f in per_class if not np.isnan(f)]
    return ClassScores(per_class=tuple(per_class), macro=float(np.mean(present)) if present else 1.0)
