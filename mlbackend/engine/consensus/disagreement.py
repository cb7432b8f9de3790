"""Disagreement scores per cell cluster and per task (annotator vs annotator, model vs consensus)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlbackend.engine.consensus.build import ConsensusResult
from mlbackend.engine.consensus.types import CellDisagreement, TaskDisagreement

MODEL_MISSED_WEIGHT = 0.5


@dataclass(frozen=True)
class DisagreementArrays:
    """Vectorised disagreement scores, one row per cell cluster."""

    labelled: np.ndarray
    p_wrong: np.ndarray
    entropy: np.ndarray
    n_labels: np.ndarray
    n_missing: np.ndarray
    n_class_conflict: np.ndarray
    n_label_classes: np.ndarray
    extra: np.ndarray
    model_mismatch: np.ndarray
    model_only: np.ndarray
    model_missed: np.ndarray
    model_entropy: np.ndarray
    model_conflict: np.ndarray


def disagreement_arrays(result: ConsensusResult) -> DisagreementArrays:
    """Compute all per-cell disagreement scores at once (see CellDisagreement for meanings)."""
    ar = result.arrays
    n, none = ar.n_cells, ar.no_cell
    post = ar.posterior
    labelled = ar.state >= 0
    p_wrong = np.where(labelled, 1.0 - post.max(axis=1, initial=0.0), 0.0)
    plogp = np.where(post > 0, post * np.log(np.where(post > 0, post, 1.0)), 0.0)
    entropy = np.where(labelled, -plogp.sum(axis=1) / np.log(max(none + 1, 2)), 0.0)
    n_labels = np.bincount(ar.label_cell, minlength=n)
    n_missing = np.bincount(ar.miss_cell, minlength=n)
    wrong = ar.label_class != ar.state[ar.label_cell]
    n_conflict = np.bincount(ar.label_cell, weights=wrong.astype(np.float64), minlength=n).astype(np.int64)
    n_label_classes = (ar.votes[:, :none] > 0).sum(axis=1) if n else np.zeros(0, np.int64)
    is_cell = labelled & (ar.state != none)
    has_model = ar.model_class >= 0
    conf = np.nan_to_num(ar.model_confidence, nan=0.0)
    mismatch = has_model & is_cell & (ar.model_class != ar.state)
    model_only = has_model & (n_labels == 0) & ar.exhaustive & labelled
    missed = ar.task_has_model & ~has_model & is_cell
    p_cell = 1.0 - post[:, none] if n else np.zeros(0)
    conflict = np.where(mismatch | model_only, conf, 0.0) + np.where(missed, MODEL_MISSED_WEIGHT * p_cell, 0.0)
    return DisagreementArrays(
        labelled=labelled, p_wrong=p_wrong, entropy=entropy, n_labels=n_labels, n_missing=n_missing,
        n_class_conflict=n_conflict, n_label_classes=n_label_classes,
        extra=labelled & (ar.state == none) & (n_labels > 0), model_mismatch=mismatch,
        model_only=model_only, model_missed=missed, model_entropy=ar.model_entropy, model_conflict=conflict,
    )


def cell_disagreements(result: ConsensusResult) -> tuple[CellDisagreement, ...]:
    """One CellDisagreement per cell cluster, in cluster order."""
    d, ar = disagreement_arrays(result), result.arrays
    out = []
    for i in range(ar.n_cells):
        ment = d.model_entropy[i]
        out.append(CellDisagreement(
            task_id=ar.task_ids[ar.cell_task[i]], index=i, p_wrong=float(d.p_wrong[i]),
            entropy=float(d.entropy[i]), n_labels=int(d.n_labels[i]), n_missing=int(d.n_missing[i]),
            n_class_conflict=int(d.n_class_conflict[i]), extra=bool(d.extra[i]),
            model_mismatch=bool(d.model_mismatch[i]), model_only=bool(d.model_only[i]),
            model_missed=bool(d.model_missed[i]), model_entropy=None if np.isnan(ment) else float(ment),
            model_conflict=float(d.model_conflict[i]),
        ))
    return tuple(out)


def _task_sums(task: np.ndarray, values: np.ndarray, n_tasks: int) -> np.ndarray:
    return np.bincount(task, weights=values.astype(np.float64), minlength=n_tasks)


def task_disagreements(result: ConsensusResult, *, conflict_threshold: float = 0.2) -> tuple[TaskDisagreement, ...]:
    """Per-task means; pairwise agreement = share of agreeing annotator pairs over all cells."""
    d, ar = disagreement_arrays(result), result.arrays
    nt, t = len(ar.task_ids), ar.cell_task
    lab = d.labelled.astype(np.float64)
    n_lab = _task_sums(t, lab, nt)
    total = ar.votes.sum(axis=1)
    pairs_agree = _task_sums(t, (ar.votes * (ar.votes - 1)).sum(axis=1) / 2.0, nt)
    pairs_all = _task_sums(t, total * (total - 1) / 2.0, nt)
    has_m = ~np.isnan(ar.model_entropy)
    n_m = _task_sums(t, has_m, nt)
    ent_m = _task_sums(t, np.nan_to_num(ar.model_entropy), nt)
    is_cell = d.labelled & (ar.state != ar.no_cell)
    judged = ar.task_has_model & (is_cell | d.model_only)
    n_judged = _task_sums(t, judged, nt)
    agree_m = _task_sums(t, judged & ~d.model_mismatch & ~d.model_only & ~d.model_missed, nt)
    conflicts = _task_sums(t, (d.p_wrong > conflict_threshold) | (d.model_conflict > conflict_threshold), nt)
    p_sum, e_sum = _task_sums(t, d.p_wrong, nt), _task_sums(t, d.entropy, nt)
    cells = np.bincount(t, minlength=nt)
    out = []
    for i, key in enumerate(ar.task_ids):
        out.append(TaskDisagreement(
            task_id=key, n_cells=int(cells[i]), mean_p_wrong=float(p_sum[i] / max(n_lab[i], 1)),
            mean_entropy=float(e_sum[i] / max(n_lab[i], 1)),
            pairwise_agreement=float(pairs_agree[i] / pairs_all[i]) if pairs_all[i] > 0 else None,
            model_agreement=float(agree_m[i] / n_judged[i]) if n_judged[i] > 0 else None,
            mean_model_entropy=float(ent_m[i] / n_m[i]) if n_m[i] > 0 else None,
            n_conflicts=int(conflicts[i]),
        ))
    return tuple(out)
