"""Entry point: tasks in, consensus cells and annotator reliabilities out (no Django)."""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from mlbackend.engine.consensus.dawid_skene import (
    DSFit,
    Observations,
    detection_rate,
    fit_dawid_skene,
    majority_vote,
    reliability,
    vote_counts,
)
from mlbackend.engine.consensus.gc_pause import bulk_objects
from mlbackend.engine.consensus.matching import match_arrays
from mlbackend.engine.consensus.types import (
    AnnotatorReliability,
    ClassKey,
    ConsensusConfig,
    ModelCell,
    Ring,
    TaskLabels,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsensusArrays:
    """Vectorised view of a consensus build (one row per cell cluster, one per label)."""

    task_ids: tuple[Hashable, ...]
    annotator_ids: tuple[Hashable, ...]
    classes: tuple[ClassKey, ...]
    cell_task: np.ndarray
    cell_x: np.ndarray
    cell_y: np.ndarray
    exhaustive: np.ndarray
    task_has_model: np.ndarray
    posterior: np.ndarray
    state: np.ndarray
    mv_state: np.ndarray
    votes: np.ndarray
    label_cell: np.ndarray
    label_annotator: np.ndarray
    label_class: np.ndarray
    miss_cell: np.ndarray
    miss_annotator: np.ndarray
    model_class: np.ndarray
    model_confidence: np.ndarray
    model_entropy: np.ndarray
    cell_polygon: tuple[Ring | None, ...]
    label_ids: tuple[Hashable, ...]

    @property
    def n_cells(self) -> int:
        """Number of cell clusters."""
        return len(self.cell_task)

    @property
    def no_cell(self) -> int:
        """State index of 'no cell / not an asked class'."""
        return len(self.classes)


@dataclass(frozen=True)
class ConsensusResult:
    """Output of build_consensus: arrays for vectorised use plus per-annotator reliability."""

    arrays: ConsensusArrays
    annotators: tuple[AnnotatorReliability, ...]
    fit: DSFit


class _Index:
    """Stable key -> small int map."""

    def __init__(self) -> None:
        self.map: dict[Hashable, int] = {}

    def get(self, key: Hashable) -> int:
        idx = self.map.get(key)
        if idx is None:
            idx = self.map[key] = len(self.map)
        return idx

    def keys(self) -> tuple[Hashable, ...]:
        return tuple(self.map)


def _class_index(tasks: Sequence[TaskLabels]) -> _Index:
    idx = _Index()
    for task in tasks:
        for c in task.classes:
            idx.get(c)
    for task in tasks:
        for lab in task.labels:
            idx.get(lab.class_key)
        for cell in task.model_cells:
            idx.get(cell.class_key)
    return idx


def _model_entropy(cell_probs: tuple[tuple[ClassKey, float], ...], confidence: float, k: int) -> float:
    """Normalised entropy of the model's class distribution (confidence spread if no probabilities)."""
    if cell_probs:
        p = [max(float(v), 0.0) for _, v in cell_probs]
    else:
        rest = max(k - 1, 1)
        p = [confidence] + [(1.0 - confidence) / rest] * rest
    total = sum(p)
    if len(p) < 2 or total <= 0:
        return 0.0
    return -sum(v / total * math.log(v / total) for v in p if v > 0) / math.log(len(p))


def _model_entropies(models: Sequence[ModelCell], k: int) -> np.ndarray:
    """Entropies of many model cells, vectorised when all carry probability vectors of one length."""
    lengths = {len(c.probabilities) for c in models}
    if len(lengths) != 1 or 0 in lengths:
        return np.array([_model_entropy(c.probabilities, c.confidence, k) for c in models])
    p = np.clip(np.array([[v for _, v in c.probabilities] for c in models], dtype=np.float64), 0.0, None)
    if p.shape[1] < 2:
        return np.zeros(len(models))
    p /= np.maximum(p.sum(axis=1, keepdims=True), 1e-300)
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -plogp.sum(axis=1) / np.log(p.shape[1])


class _Builder:
    """Accumulates per-task matching results into flat arrays."""

    def __init__(self, tasks: Sequence[TaskLabels], cfg: ConsensusConfig) -> None:
        self.cfg = cfg
        self.classes = _class_index(tasks)
        self.annotators = _Index()
        self.cols: dict[str, list[np.ndarray]] = {}
        self.rings: list[Ring | None] = []
        self.label_rings: list[Ring | None] = []
        self.label_ids: list[Hashable] = []
        self.model_rows: list[tuple[int, int, float, float, float, float]] = []
        self.n_cells = 0

    def push(self, name: str, arr: np.ndarray) -> None:
        self.cols.setdefault(name, []).append(arr)

    def col(self, name: str, dtype: type) -> np.ndarray:
        parts = self.cols.get(name, [])
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    def add_task(self, ti: int, task: TaskLabels) -> None:
        labels, models, n = task.labels, task.model_cells, len(task.labels)
        x = np.fromiter((lab.x for lab in labels), np.float64, n)
        y = np.fromiter((lab.y for lab in labels), np.float64, n)
        amap, cmap = self.annotators.map, self.classes.map
        ann = np.fromiter((amap.setdefault(lab.annotator_id, len(amap)) for lab in labels), np.int64, n)
        cls = np.fromiter((cmap[lab.class_key] for lab in labels), np.int64, n)
        rings = [lab.polygon for lab in labels]
        mx = np.fromiter((c.x for c in models), np.float64, len(models))
        my = np.fromiter((c.y for c in models), np.float64, len(models))
        match = match_arrays(
            x, y, ann, rings, mx, my, [c.polygon for c in models],
            radius_px=self.cfg.radius_um / task.mpp, iou_threshold=self.cfg.iou_threshold,
        )
        off, nc = self.n_cells, match.n_clusters
        cells = match.label_cluster + off
        self.push("label_cell", cells)
        self.push("label_annotator", ann)
        self.push("label_class", cls)
        self.push("label_x", x)
        self.push("label_y", y)
        self.label_rings.extend(rings)
        self.label_ids.extend(lab.label_id for lab in labels)
        self.push("cell_task", np.full(nc, ti))
        self.push("exhaustive", np.full(nc, task.mode == "exhaustive"))
        self.push("task_has_model", np.full(nc, len(models) > 0))
        if models:
            ent = _model_entropies(models, max(len(task.classes), 1))
            self.model_rows.extend(zip((match.model_cluster + off).tolist(), (cmap[c.class_key] for c in models),
                                       (float(c.confidence) for c in models), ent.tolist(), mx.tolist(), my.tolist(),
                                       strict=True))
        if task.mode == "exhaustive":
            self._add_misses(task, cells, ann, off, nc)
        self.n_cells += nc

    def _add_misses(self, task: TaskLabels, cells: np.ndarray, ann: np.ndarray, off: int, nc: int) -> None:
        assigned = np.unique(np.concatenate([
            np.array([self.annotators.get(a) for a in task.annotator_ids], dtype=np.int64), ann]))
        if len(assigned) == 0 or nc == 0:
            return
        big = int(assigned.max()) + 1
        all_cells = np.repeat(np.arange(off, off + nc), len(assigned))
        all_ann = np.tile(assigned, nc)
        present = np.isin(all_cells * big + all_ann, cells * big + ann)
        self.push("miss_cell", all_cells[~present])
        self.push("miss_annotator", all_ann[~present])


def _positions(b: _Builder, label_cell: np.ndarray, model: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = b.n_cells
    cnt = np.bincount(label_cell, minlength=n).astype(np.float64)
    sx = np.bincount(label_cell, weights=b.col("label_x", np.float64), minlength=n)
    sy = np.bincount(label_cell, weights=b.col("label_y", np.float64), minlength=n)
    if len(model):
        only = cnt[model[:, 0].astype(np.int64)] == 0
        idx = model[only, 0].astype(np.int64)
        sx[idx], sy[idx], cnt[idx] = model[only, 4], model[only, 5], 1.0
    cnt = np.maximum(cnt, 1.0)
    return sx / cnt, sy / cnt


def _consensus_polygons(b: _Builder, label_cell: np.ndarray) -> tuple[Ring | None, ...]:
    from mlbackend.engine.consensus.geometry import best_mean_iou_member

    out: list[Ring | None] = [None] * b.n_cells
    members: dict[int, list[Ring]] = {}
    for cell, ring in zip(label_cell.tolist(), b.label_rings, strict=True):
        if ring is not None:
            members.setdefault(cell, []).append(ring)
    for cell, rings in members.items():
        out[cell] = rings[best_mean_iou_member(rings)]
    return tuple(out)


def build_consensus(tasks: Sequence[TaskLabels], *, config: ConsensusConfig | None = None) -> ConsensusResult:
    """Match labels per task into cell clusters and fit Dawid-Skene across all tasks and annotators."""
    cfg = config or ConsensusConfig()
    b = _Builder(tasks, cfg)
    with bulk_objects():
        for ti, task in enumerate(tasks):
            b.add_task(ti, task)
    k, n = len(b.classes.map), b.n_cells
    label_cell, label_ann, label_cls = (b.col("label_cell", np.int64), b.col("label_annotator", np.int64),
                                        b.col("label_class", np.int64))
    miss_cell, miss_ann = b.col("miss_cell", np.int64), b.col("miss_annotator", np.int64)
    exhaustive = b.col("exhaustive", bool)
    obs = Observations(
        item=np.concatenate([label_cell, miss_cell]), annotator=np.concatenate([label_ann, miss_ann]),
        outcome=np.concatenate([label_cls, np.full(len(miss_cell), k)]),
        exhaustive=np.concatenate([exhaustive[label_cell], np.ones(len(miss_cell), bool)]),
        n_items=n, n_annotators=len(b.annotators.map), n_classes=k,
    )
    fit = fit_dawid_skene(obs, cfg)
    votes = vote_counts(obs)
    state = np.argmax(fit.posterior, axis=1) if n else np.zeros(0, np.int64)
    state[votes.sum(axis=1) == 0] = -1
    model = np.array(b.model_rows, dtype=np.float64).reshape(-1, 6)
    model_class, model_conf, model_ent = np.full(n, -1), np.full(n, np.nan), np.full(n, np.nan)
    if len(model):
        mi = model[:, 0].astype(np.int64)
        model_class[mi], model_conf[mi], model_ent[mi] = model[:, 1].astype(np.int64), model[:, 2], model[:, 3]
    cx, cy = _positions(b, label_cell, model)
    arrays = ConsensusArrays(
        task_ids=tuple(t.task_id for t in tasks), annotator_ids=b.annotators.keys(), classes=b.classes.keys(),
        cell_task=b.col("cell_task", np.int64), cell_x=cx, cell_y=cy, exhaustive=exhaustive,
        task_has_model=b.col("task_has_model", bool), posterior=fit.posterior, state=state,
        mv_state=majority_vote(obs, cfg.tie_seed), votes=votes, label_cell=label_cell,
        label_annotator=label_ann, label_class=label_cls, miss_cell=miss_cell, miss_annotator=miss_ann,
        model_class=model_class, model_confidence=model_conf, model_entropy=model_ent,
        cell_polygon=_consensus_polygons(b, label_cell), label_ids=tuple(b.label_ids),
    )
    return ConsensusResult(arrays=arrays, annotators=_annotators(arrays, fit, obs), fit=fit)


def _annotators(arrays: ConsensusArrays, fit: DSFit, obs: Observations) -> tuple[AnnotatorReliability, ...]:
    rel, det = reliability(fit), detection_rate(fit)
    n_labels = np.bincount(arrays.label_annotator, minlength=len(arrays.annotator_ids))
    exh = np.zeros(len(arrays.annotator_ids), dtype=bool)
    exh[obs.annotator[obs.exhaustive]] = True
    out = []
    for a, key in enumerate(arrays.annotator_ids):
        confusion = np.concatenate([fit.q[a] * (1.0 - fit.miss[a])[:, None], fit.miss[a][:, None]], axis=1)
        out.append(AnnotatorReliability(
            annotator_id=key, reliability=float(rel[a]), detection_rate=float(det[a]) if exh[a] else None,
            n_labels=int(n_labels[a]), confusion=tuple(tuple(float(v) for v in row) for row in confusion),
        ))
    return tuple(out)
