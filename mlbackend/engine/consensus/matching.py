"""Match annotators' labels (and model cells) into cell clusters: one label per annotator per cluster.

Algorithm (deterministic): annotators are added one at a time, most labels first (ties: first seen).
Each new annotator's labels are matched to the current clusters by an optimal assignment
(``scipy.optimize.linear_sum_assignment``) restricted to feasible pairs: points within the radius of
the cluster centroid (mean of its members), or, when both sides carry polygons, IoU with the
cluster's reference polygon (its first polygon) at least the threshold. Candidate pairs come from a
KD-tree; the bipartite graph is split into connected components so 1-1 pairs are taken directly and
only contested components go through the Hungarian solver (O(n log n) overall, not O(n^2)).
Unmatched labels open new clusters. Model cells are matched last the same way; unmatched model
cells open model-only clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from mlbackend.engine.consensus.geometry import polygon_iou, ring_radius
from mlbackend.engine.consensus.types import Ring

_INFEASIBLE = 1e6


@dataclass(frozen=True)
class Matching:
    """Cluster index of every label and every model cell (model cells always get a cluster)."""

    label_cluster: np.ndarray
    model_cluster: np.ndarray
    n_clusters: int


def sparse_assignment(
    rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, n_rows: int, n_cols: int
) -> tuple[np.ndarray, np.ndarray]:
    """Min-cost maximum matching over the given feasible edges, solved per connected component."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    deg_r = np.bincount(rows, minlength=n_rows)
    deg_c = np.bincount(cols, minlength=n_cols)
    simple = (deg_r[rows] == 1) & (deg_c[cols] == 1)
    out_r, out_c = [rows[simple]], [cols[simple]]
    rest = np.flatnonzero(~simple)
    if len(rest):
        rr, cc, cost_rest = rows[rest], cols[rest], cost[rest]
        graph = coo_matrix((np.ones(len(rest)), (rr, n_rows + cc)), shape=(n_rows + n_cols,) * 2)
        _, comp = connected_components(graph, directed=False)
        edge_comp = comp[rr]
        order = np.argsort(edge_comp, kind="stable")
        bounds = np.flatnonzero(np.diff(edge_comp[order])) + 1
        for group in np.split(order, bounds):
            r_g, c_g = _solve_component(rr[group], cc[group], cost_rest[group])
            out_r.append(r_g)
            out_c.append(c_g)
    return np.concatenate(out_r).astype(np.int64), np.concatenate(out_c).astype(np.int64)


def _solve_component(rows: np.ndarray, cols: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r_list, c_list = rows.tolist(), cols.tolist()
    ur = sorted(set(r_list))
    uc = sorted(set(c_list))
    r_pos = {r: i for i, r in enumerate(ur)}
    c_pos = {c: i for i, c in enumerate(uc)}
    dense = np.full((len(ur), len(uc)), _INFEASIBLE)
    dense[[r_pos[r] for r in r_list], [c_pos[c] for c in c_list]] = cost
    a, b = linear_sum_assignment(dense)
    ok = dense[a, b] < _INFEASIBLE
    return np.asarray(ur, dtype=np.int64)[a[ok]], np.asarray(uc, dtype=np.int64)[b[ok]]


class _Clusters:
    """Growing cluster table: centroid sums, counts and reference polygon per cluster."""

    def __init__(self, capacity: int) -> None:
        self.sx = np.zeros(capacity)
        self.sy = np.zeros(capacity)
        self.count = np.zeros(capacity)
        self.ref: list[Ring | None] = []
        self.n = 0

    def centroids(self) -> tuple[np.ndarray, np.ndarray]:
        c = np.maximum(self.count[: self.n], 1.0)
        return self.sx[: self.n] / c, self.sy[: self.n] / c

    def add(self, ids: np.ndarray, x: np.ndarray, y: np.ndarray, rings: Sequence[Ring | None]) -> None:
        np.add.at(self.sx, ids, x)
        np.add.at(self.sy, ids, y)
        np.add.at(self.count, ids, 1.0)
        for i, ring in zip(ids.tolist(), rings, strict=True):
            if self.ref[i] is None and ring is not None:
                self.ref[i] = ring

    def open(self, x: np.ndarray, y: np.ndarray, rings: Sequence[Ring | None], weight: float) -> np.ndarray:
        ids = np.arange(self.n, self.n + len(x))
        self.n += len(x)
        self.ref.extend([None] * len(x))
        if weight > 0:
            self.add(ids, x, y, rings)
        else:  # model-only clusters: position from the model, counted as zero members
            self.sx[ids], self.sy[ids], self.count[ids] = x, y, 1.0
            for i, ring in zip(ids.tolist(), rings, strict=True):
                self.ref[i] = ring
        return ids


def _match_to_clusters(
    table: _Clusters, x: np.ndarray, y: np.ndarray, rings: Sequence[Ring | None], radius_px: float,
    iou_threshold: float, search_px: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal assignment of new items to existing clusters; returns (item index, cluster index)."""
    if table.n == 0 or len(x) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cx, cy = table.centroids()
    pairs = cKDTree(np.c_[x, y]).sparse_distance_matrix(
        cKDTree(np.c_[cx, cy]), search_px, output_type="ndarray"
    )
    rows, cols, dist = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64), pairs["v"]
    cost = dist / max(radius_px, 1e-9)
    feasible = dist <= radius_px
    item_ring = np.array([r is not None for r in rings], dtype=bool)
    ref_ring = np.array([r is not None for r in table.ref], dtype=bool)
    for e in np.flatnonzero(item_ring[rows] & ref_ring[cols]) if item_ring.any() and ref_ring.any() else ():
        iou = polygon_iou(rings[rows[e]], table.ref[cols[e]])  # type: ignore[arg-type]
        feasible[e] = iou >= iou_threshold
        cost[e] = 1.0 - iou
    return sparse_assignment(rows[feasible], cols[feasible], cost[feasible], len(x), table.n)


def match_arrays(
    x: np.ndarray, y: np.ndarray, annotator: np.ndarray, rings: Sequence[Ring | None],
    model_x: np.ndarray, model_y: np.ndarray, model_rings: Sequence[Ring | None],
    *, radius_px: float, iou_threshold: float,
) -> Matching:
    """Cluster one task's labels (annotator = small int per label) and attach model cells."""
    table = _Clusters(len(x) + len(model_x))
    search_px = radius_px
    all_rings = [r for r in list(rings) + list(model_rings) if r is not None]
    if all_rings:
        search_px = max(radius_px, 2.0 * max(ring_radius(r) for r in all_rings))
    label_cluster = np.full(len(x), -1, dtype=np.int64)
    ids, first = np.unique(annotator, return_index=True)
    counts = np.bincount(np.searchsorted(ids, annotator), minlength=len(ids))
    for k in np.lexsort((first, -counts)):
        idx = np.flatnonzero(annotator == ids[k])
        sub_rings = [rings[i] for i in idx]
        r, c = _match_to_clusters(table, x[idx], y[idx], sub_rings, radius_px, iou_threshold, search_px)
        label_cluster[idx[r]] = c
        table.add(c, x[idx[r]], y[idx[r]], [sub_rings[i] for i in r])
        rest = np.setdiff1d(np.arange(len(idx)), r)
        label_cluster[idx[rest]] = table.open(x[idx[rest]], y[idx[rest]], [sub_rings[i] for i in rest], 1.0)
    model_cluster = np.full(len(model_x), -1, dtype=np.int64)
    r, c = _match_to_clusters(table, model_x, model_y, model_rings, radius_px, iou_threshold, search_px)
    model_cluster[r] = c
    rest = np.setdiff1d(np.arange(len(model_x)), r)
    model_cluster[rest] = table.open(model_x[rest], model_y[rest], [model_rings[i] for i in rest], 0.0)
    return Matching(label_cluster=label_cluster, model_cluster=model_cluster, n_clusters=table.n)
