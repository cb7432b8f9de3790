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
        """Mean diagonal of the confusion matrix weighted by class prior (set by caller)."""
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


def _annotate(ann: SimAnnotator, cells: np.ndarray, x: np.ndarray, y: np.ndarray, cls: np.ndarray,
              box: tuple[float, float, float], rng: np.random.Generator, start: int
              ) -> tuple[list[AnnotatorLabel], dict]:
    """One annotator's labels on one task; returns labels and label_id -> true cell (-1 false positive)."""
    k = ann.confusion.shape[0]
    hit = cells[rng.random(len(cells)) < ann.detect_rate]
    n_fp = rng.poisson(ann.fp_rate * len(cells))
    lab_cls = [rng.choice(k, p=ann.confusion[cls[c]]) for c in hit] + list(rng.integers(0, k, n_fp))
    x0, y0, size = box
    lx = np.concatenate([x[hit] + rng.normal(0, ann.jitter_px, len(hit)), rng.uniform(x0, x0 + size, n_fp)])
    ly = np.concatenate([y[hit] + rng.normal(0, ann.jitter_px, len(hit)), rng.uniform(y0, y0 + size, n_fp)])
    truth = list(hit.tolist()) + [-1] * n_fp
    labels, out = [], {}
    t0 = float(rng.uniform(0, 1e5))
    for j in range(len(truth)):
        lid = start + j
        labels.append(AnnotatorLabel(lid, ann.annotator_id, f"c{lab_cls[j]}", float(lx[j]), float(ly[j]),
                                     created_at_s=t0 + j * ann.seconds_per_label))
        out[lid] = truth[j]
    return labels, out


def _model(cells: np.ndarray, x: np.ndarray, y: np.ndarray, cls: np.ndarray, k: int, accuracy: float,
           rng: np.random.Generator) -> tuple[list[ModelCell], list[int]]:
    """Model detections: recall 0.95, class right with `accuracy`, confidence higher when right."""
    found = cells[rng.random(len(cells)) < 0.95]
    out, truth = [], []
    for c in found.tolist():
        right = rng.random() < accuracy
        pred = cls[c] if right or k == 1 else rng.choice([o for o in range(k) if o != cls[c]])
        conf = float(rng.beta(8, 2) if right else rng.beta(4, 4))
        probs = np.full(k, (1.0 - conf) / max(k - 1, 1))
        probs[pred] = conf if k > 1 else 1.0
        out.append(ModelCell(float(x[c]), float(y[c]), f"c{pred}", conf,
                             tuple((f"c{o}", float(p)) for o, p in enumerate(probs))))
        truth.append(c)
    return out, truth


def simulate_slide(n_cells: int, annotators: tuple[SimAnnotator, ...], *, k_per_task: int, seed: int,
                   mode: LabelMode = "exhaustive", task_px: float = 1000.0, prior: np.ndarray | None = None,
                   model_accuracy: float | None = 0.85, mpp: float = 0.25) -> SimSlide:
    """Cells on a jittered grid cut into square tasks, each annotated by k annotators from the pool."""
    rng = np.random.default_rng(seed)
    n_classes = annotators[0].confusion.shape[0]
    prior = prior if prior is not None else np.full(n_classes, 1.0 / n_classes)
    x, y, cls = generate_cells(n_cells, rng, prior)
    classes = tuple(f"c{i}" for i in range(n_classes))
    tx, ty = (x // task_px).astype(np.int64), (y // task_px).astype(np.int64)
    key = tx * 100_000 + ty
    tasks, label_truth, model_truth, next_id = [], {}, {}, 0
    for t, kv in enumerate(np.unique(key).tolist()):
        cells = np.flatnonzero(key == kv)
        box = (float(kv // 100_000) * task_px, float(kv % 100_000) * task_px, task_px)
        chosen = rng.choice(len(annotators), size=min(k_per_task, len(annotators)), replace=False)
        labels: list[AnnotatorLabel] = []
        for a in sorted(chosen.tolist()):
            labs, truth = _annotate(annotators[a], cells, x, y, cls, box, rng, next_id)
            next_id += len(labs) + 1
            labels.extend(labs)
            label_truth.update(truth)
        models: list[ModelCell] = []
        if model_accuracy is not None:
            models, mt = _model(cells, x, y, cls, n_classes, model_accuracy, rng)
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
