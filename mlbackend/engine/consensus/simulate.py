"""Simulated annotators with known confusion matrices on a generated slide (tests and benchmarks).

Cell positions come from a seeded jittered grid (not from the synthetic slide generator).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlbackend.engine.consensus.build import ConsensusResult
from mlbackend.engine.consensus.types import AnnotatorLabel, LabelMode, ModelCell, TaskLabels


@dataclass(frozen=True)
class SimAnnotator:
    """A simulated annotator: confusion[true, labelled] given a label, detection rate, false positives."""

    annotator_id: str
    confusion: np.ndarray
    detect_rate: float
    fp_rate: float = 0.02
    jitter_px: float = 3.0
    seconds_per_label: float = 4.0

    @property
    def reliability(self) -> float:
        """Mean diagonal of the confusion matrix (classes weighted equally)."""
        return float(np.mean(np.diag(self.confusion)))


@dataclass(frozen=True)
class SimSlide:
    """Generated truth plus the tasks the engine sees; label/model truth = true cell index or -1."""

    tasks: tuple[TaskLabels, ...]
    cell_x: np.ndarray
    cell_y: np.ndarray
    cell_class: np.ndarray
    classes: tuple[str, ...]
    label_truth: dict
    model_truth: dict
    annotators: tuple[SimAnnotator, ...]


def make_confusion(accuracy: float, n_classes: int, confusable: float = 0.7) -> np.ndarray:
    """Confusion with `accuracy` on the diagonal; errors go mostly to a look-alike partner class."""
    c = np.zeros((n_classes, n_classes))
    for t in range(n_classes):
        c[t, t] = accuracy
        partner = t ^ 1 if (t ^ 1) < n_classes else (t + 1) % n_classes
        others = [o for o in range(n_classes) if o not in (t, partner)]
        err = 1.0 - accuracy
        if partner != t:
            c[t, partner] += err * (confusable if others else 1.0)
        for o in others:
            c[t, o] += err * (1.0 - confusable) / len(others)
        if n_classes == 1:
            c[t, t] = 1.0
    return c


def generate_cells(n_cells: int, rng: np.random.Generator, prior: np.ndarray, spacing_px: float = 40.0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jittered-grid cell centres (non-overlapping) and classes drawn from `prior`."""
    side = int(np.ceil(np.sqrt(n_cells)))
    gx, gy = np.meshgrid(np.arange(side), np.arange(side))
    x = (gx.ravel()[:n_cells] + 0.5) * spacing_px + rng.uniform(-0.3, 0.3, n_cells) * spacing_px
    y = (gy.ravel()[:n_cells] + 0.5) * spacing_px + rng.uniform(-0.3, 0.3, n_cells) * spacing_px
    return x, y, rng.choice(len(prior), size=n_cells, p=prior)


def _sample_rows(probs: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one column index per row from the row distributions probs[rows] (vectorised)."""
    cum = np.cumsum(probs, axis=1)[rows]
    u = rng.random(len(rows))[:, None] * cum[:, -1:]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def _annotate(ann: SimAnnotator, cells: np.ndarray, x: np.ndarray, y: np.ndarray, cls: np.ndarray,
              box: tuple[float, float, float], rng: np.random.Generator, start: int
              ) -> tuple[list[AnnotatorLabel], dict]:
    """One annotator's labels on one task; returns labels and label_id -> true cell (-1 false positive)."""
    k = ann.confusion.shape[0]
    hit = cells[rng.random(len(cells)) < ann.detect_rate]
    n_fp = rng.poisson(ann.fp_rate * len(cells))
    lab_cls = np.concatenate([_sample_rows(ann.confusion, cls[hit], rng), rng.integers(0, k, n_fp)]).tolist()
    x0, y0, size = box
    lx = np.concatenate([x[hit] + rng.normal(0, ann.jitter_px, len(hit)), rng.uniform(x0, x0 + size, n_fp)])
    ly = np.concatenate([y[hit] + rng.normal(0, ann.jitter_px, len(hit)), rng.uniform(y0, y0 + size, n_fp)])
    truth = hit.tolist() + [-1] * n_fp
    t0 = float(rng.uniform(0, 1e5))
    ids = range(start, start + len(truth))
    labels = [AnnotatorLabel(lid, ann.annotator_id, f"c{c}", px, py, created_at_s=t0 + j * ann.seconds_per_label)
              for j, (lid, c, px, py) in enumerate(zip(ids, lab_cls, lx.tolist(), ly.tolist(), strict=True))]
    return labels, dict(zip(ids, truth, strict=True))


def _model(cells: np.ndarray, x: np.ndarray, y: np.ndarray, cls: np.ndarray, k: int, accuracy: float,
           rng: np.random.Generator) -> tuple[list[ModelCell], list[int]]:
    """Model detections: recall 0.95, class right with `accuracy`, confidence higher when right."""
    found = cells[rng.random(len(cells)) < 0.95]
    right = (rng.random(len(found)) < accuracy) | (k == 1)
    shift = rng.integers(1, max(k, 2), len(found))
    pred = np.where(right, cls[found], (cls[found] + shift) % max(k, 1))
    conf = np.where(right, rng.beta(8, 2, len(found)), rng.beta(4, 4, len(found)))
    probs = np.repeat(((1.0 - conf) / max(k - 1, 1))[:, None], k, axis=1)
    probs[np.arange(len(found)), pred] = conf if k > 1 else 1.0
    out = [ModelCell(float(x[c]), float(y[c]), f"c{p}", float(cf), tuple((f"c{o}", float(v)) for o, v in enumerate(pr)))
           for c, p, cf, pr in zip(found.tolist(), pred.tolist(), conf.tolist(), probs.tolist(), strict=True)]
    return out, found.tolist()


def simulate_slide(n_cells: int, annotators: tuple[SimAnnotator, ...], *, k_per_task: int, seed: int,
                   mode: LabelMode = "exhaustive", task_px: float = 1000.0, prior: np.ndarray | None = None,
                   model_accuracy: float | None = 0.85, mpp: float = 0.25,
                   cells: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> SimSlide:
    """Cells (given, or a jittered grid) cut into square tasks, each annotated by k annotators from the pool."""
    rng = np.random.default_rng(seed)
    n_classes = annotators[0].confusion.shape[0]
    prior = prior if prior is not None else np.full(n_classes, 1.0 / n_classes)
    x, y, cls = cells if cells is not None else generate_cells(n_cells, rng, prior)
    classes = tuple(f"c{i}" for i in range(n_classes))
    tx, ty = (x // task_px).astype(np.int64), (y // task_px).astype(np.int64)
    key = tx * 100_000 + ty
    order = np.argsort(key, kind="stable")
    uniq, starts = np.unique(key[order], return_index=True)
    bounds = np.r_[starts, len(order)]
    tasks, label_truth, model_truth, next_id = [], {}, {}, 0
    for t, kv in enumerate(uniq.tolist()):
        cells_t = order[bounds[t]:bounds[t + 1]]
        box = (float(kv // 100_000) * task_px, float(kv % 100_000) * task_px, task_px)
        chosen = rng.choice(len(annotators), size=min(k_per_task, len(annotators)), replace=False)
        labels: list[AnnotatorLabel] = []
        for a in sorted(chosen.tolist()):
            labs, truth = _annotate(annotators[a], cells_t, x, y, cls, box, rng, next_id)
            next_id += len(labs) + 1
            labels.extend(labs)
            label_truth.update(truth)
        models: list[ModelCell] = []
        if model_accuracy is not None:
            models, mt = _model(cells_t, x, y, cls, n_classes, model_accuracy, rng)
            model_truth.update({(t, j): c for j, c in enumerate(mt)})
        tasks.append(TaskLabels(task_id=t, mode=mode, classes=classes, labels=tuple(labels),
                                annotator_ids=tuple(annotators[a].annotator_id for a in sorted(chosen.tolist())),
                                model_cells=tuple(models), mpp=mpp))
    return SimSlide(tuple(tasks), x, y, cls, classes, label_truth, model_truth, annotators)


def cluster_truth(result: ConsensusResult, sim: SimSlide) -> np.ndarray:
    """True state per cluster in the result's class space (no_cell for false-positive clusters)."""
    ar = result.arrays
    class_idx = {key: i for i, key in enumerate(ar.classes)}
    sim_to_res = np.array([class_idx.get(c, -1) for c in sim.classes])
    truth_cell = np.array([sim.label_truth[lid] for lid in ar.label_ids], dtype=np.int64)
    out = np.full(ar.n_cells, ar.no_cell, dtype=np.int64)
    real = truth_cell >= 0
    # Majority over members: count (cluster, true cell) pairs and keep the most frequent per cluster.
    pair = ar.label_cell[real] * (len(sim.cell_class) + 1) + truth_cell[real]
    uniq, counts = np.unique(pair, return_counts=True)
    cl, tc = uniq // (len(sim.cell_class) + 1), uniq % (len(sim.cell_class) + 1)
    fp = np.bincount(ar.label_cell[~real], minlength=ar.n_cells)
    order = np.lexsort((-counts, cl))
    first = np.r_[True, np.diff(cl[order]) != 0]
    cl_f, tc_f, cnt_f = cl[order][first], tc[order][first], counts[order][first]
    keep = cnt_f >= fp[cl_f]
    out[cl_f[keep]] = sim_to_res[sim.cell_class[tc_f[keep]]]
    return out
