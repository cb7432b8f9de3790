"""Review queue ordered by the expected value of a review.

score = cells_affected * P(current best label is wrong)
        + model_bonus * model_conflict            (model vs consensus, weighted by model confidence)
        + uncertainty_weight * model_entropy      (normalised entropy of the model's probabilities)
A cluster is one cell, so cells_affected = 1. Unlabelled clusters (sparse task, model only) are
not review items: nobody claimed anything there (they feed active learning instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlbackend.engine.consensus.build import ConsensusResult
from mlbackend.engine.consensus.cells import group_rows
from mlbackend.engine.consensus.disagreement import DisagreementArrays, disagreement_arrays
from mlbackend.engine.consensus.types import CompetingLabel, ReviewItem


@dataclass(frozen=True)
class ReviewConfig:
    """Weights of the review score and the cut-offs of the queue."""

    model_bonus: float = 0.5
    uncertainty_weight: float = 0.1
    min_score: float = 0.05
    max_items: int | None = None
    low_confidence: float = 0.2


def review_scores(result: ConsensusResult, config: ReviewConfig | None = None,
                  d: DisagreementArrays | None = None) -> np.ndarray:
    """Review score per cluster (0 for unlabelled clusters)."""
    cfg = config or ReviewConfig()
    d = d if d is not None else disagreement_arrays(result)
    score = d.p_wrong + cfg.model_bonus * d.model_conflict
    score = score + cfg.uncertainty_weight * np.nan_to_num(d.model_entropy, nan=0.0)
    return np.where(d.labelled, score, 0.0)


def review_order(result: ConsensusResult, config: ReviewConfig | None = None) -> np.ndarray:
    """Indices of all labelled clusters, best review first (ties by cluster index)."""
    scores = review_scores(result, config)
    idx = np.flatnonzero(result.arrays.state >= 0)
    return idx[np.lexsort((idx, -scores[idx]))]


def _reasons(i: int, d: DisagreementArrays, cfg: ReviewConfig) -> tuple[str, ...]:
    human = []
    if d.n_label_classes[i] > 1:
        human.append("class_conflict")
    if d.extra[i]:
        human.append("extra")
    elif d.n_missing[i] > 0 and d.n_labels[i] > 0:
        human.append("missing")
    model = [name for name, flag in (("model_mismatch", d.model_mismatch[i]), ("model_only", d.model_only[i]),
                                     ("model_missed", d.model_missed[i])) if flag]
    if not np.isnan(d.model_entropy[i]) and d.model_entropy[i] > 0.5:
        model.append("model_uncertain")
    model_first = cfg.model_bonus * d.model_conflict[i] > d.p_wrong[i]
    reasons = model + human if model_first else human + model
    if not reasons or (d.p_wrong[i] > cfg.low_confidence and not human):
        reasons.append("low_confidence")
    return tuple(reasons)


def review_queue(result: ConsensusResult, config: ReviewConfig | None = None) -> tuple[ReviewItem, ...]:
    """Review items with score >= min_score, best first, each with reason codes and competing labels."""
    cfg = config or ReviewConfig()
    ar, d = result.arrays, disagreement_arrays(result)
    scores = review_scores(result, cfg, d)
    idx = np.flatnonzero(d.labelled & (scores >= cfg.min_score))
    idx = idx[np.lexsort((idx, -scores[idx]))]
    if cfg.max_items is not None:
        idx = idx[: cfg.max_items]
    l_order, l_start = group_rows(ar.label_cell, ar.n_cells)
    m_order, m_start = group_rows(ar.miss_cell, ar.n_cells)
    items = []
    for i in idx.tolist():
        reasons = _reasons(i, d, cfg)
        items.append(ReviewItem(
            task_id=ar.task_ids[ar.cell_task[i]], index=i, score=float(scores[i]), reason=reasons[0],
            reasons=reasons, x=float(ar.cell_x[i]), y=float(ar.cell_y[i]),
            competing=_competing(result, i, l_order[l_start[i]:l_start[i + 1]], m_order[m_start[i]:m_start[i + 1]]),
        ))
    return tuple(items)


def _competing(result: ConsensusResult, i: int, labels: np.ndarray, misses: np.ndarray) -> tuple[CompetingLabel, ...]:
    ar = result.arrays
    keys = list(ar.classes) + [None]
    groups: dict[int, tuple[list, list]] = {}
    for j in labels.tolist():
        g = groups.setdefault(int(ar.label_class[j]), ([], []))
        g[0].append(ar.annotator_ids[ar.label_annotator[j]])
        g[1].append(ar.label_ids[j])
    if len(misses):
        groups[ar.no_cell] = ([ar.annotator_ids[a] for a in ar.miss_annotator[misses].tolist()], [])
    out = [CompetingLabel(class_key=keys[c], source="annotators", annotator_ids=tuple(a), label_ids=tuple(lid),
                          posterior=float(ar.posterior[i, c])) for c, (a, lid) in sorted(groups.items())]
    mc = int(ar.model_class[i])
    if mc >= 0:
        out.append(CompetingLabel(class_key=keys[mc], source="model", annotator_ids=(), label_ids=(),
                                  posterior=float(ar.posterior[i, mc])))
    return tuple(sorted(out, key=lambda c: -c.posterior))
