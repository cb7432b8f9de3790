"""Review queue ordered by the expected value of a review.

value(item) = impact * P(the current consensus state is wrong | annotators and model)
              + uncertainty_weight * model_entropy                      (optional, default 0)

P(error) comes from model_evidence: the Dawid-Skene posterior (which already weighs how many
annotators saw the cell, how reliable each is, and which classes they gave; a missing label in an
exhaustive task counts as a vote for "no cell") multiplied by the model's likelihood of what it
output there (class and confidence bin, or "not detected"), with the model's confusion table fitted
by EM against the annotators. A review fixes at most one cell, so impact = 1 for every item: the
queue is ordered by the probability that the review changes the label. Unlabelled clusters (sparse
task, model only) are not review items: nobody claimed anything there (they feed active learning).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlbackend.engine.consensus.build import ConsensusResult
from mlbackend.engine.consensus.cells import group_rows
from mlbackend.engine.consensus.disagreement import DisagreementArrays, disagreement_arrays
from mlbackend.engine.consensus.gc_pause import bulk_objects
from mlbackend.engine.consensus.model_evidence import model_evidence
from mlbackend.engine.consensus.types import CompetingLabel, ReviewItem


@dataclass(frozen=True)
class ReviewConfig:
    """Score settings and the cut-offs of the queue.

    use_model: fuse the model's output into P(error) (False: annotator posterior only).
    model_bins / model_pseudo / model_agree_pseudo / model_rounds: confidence bins, Dirichlet prior
    and EM rounds of the model's likelihood table (chosen on development seeds 11/77/79, not the benchmark seeds).
    """

    use_model: bool = True
    model_bins: int = 8
    model_pseudo: float = 0.5
    model_agree_pseudo: float = 8.0
    model_rounds: int = 10
    impact: float = 1.0
    uncertainty_weight: float = 0.0
    min_score: float = 0.05
    max_items: int | None = None
    low_confidence: float = 0.2


def _p_error(result: ConsensusResult, cfg: ReviewConfig, d: DisagreementArrays) -> np.ndarray:
    if not cfg.use_model:
        return d.p_wrong
    return model_evidence(result, n_bins=cfg.model_bins, pseudo=cfg.model_pseudo,
                          agree_pseudo=cfg.model_agree_pseudo, rounds=cfg.model_rounds).p_error


def _scores(result: ConsensusResult, cfg: ReviewConfig, d: DisagreementArrays) -> tuple[np.ndarray, np.ndarray]:
    p_error = _p_error(result, cfg, d)
    score = cfg.impact * p_error + cfg.uncertainty_weight * np.nan_to_num(d.model_entropy, nan=0.0)
    return np.where(d.labelled, score, 0.0), p_error


def review_scores(result: ConsensusResult, config: ReviewConfig | None = None,
                  d: DisagreementArrays | None = None) -> np.ndarray:
    """Expected value of reviewing each cluster (0 for unlabelled clusters)."""
    cfg = config or ReviewConfig()
    return _scores(result, cfg, d if d is not None else disagreement_arrays(result))[0]


def review_order(result: ConsensusResult, config: ReviewConfig | None = None) -> np.ndarray:
    """Indices of all labelled clusters, best review first (ties by cluster index)."""
    scores = review_scores(result, config)
    idx = np.flatnonzero(result.arrays.state >= 0)
    return idx[np.lexsort((idx, -scores[idx]))]


_HUMAN = ("class_conflict", "extra", "missing")
_MODEL = ("model_mismatch", "model_only", "model_missed", "model_uncertain")


def _reason_codes(d: DisagreementArrays, cfg: ReviewConfig, p_error: np.ndarray) -> np.ndarray:
    """Bit mask per cluster: bits 0-2 human reasons, 3-6 model reasons, 7 model first, 8 low confidence.

    "Model first" when the model's evidence added more to P(error) than the annotators' own doubt.
    """
    extra = d.extra
    flags = [d.n_label_classes > 1, extra, ~extra & (d.n_missing > 0) & (d.n_labels > 0),
             d.model_mismatch, d.model_only, d.model_missed, np.nan_to_num(d.model_entropy, nan=0.0) > 0.5,
             p_error - d.p_wrong > d.p_wrong]
    code = np.zeros(len(extra), dtype=np.int64)
    for bit, flag in enumerate(flags):
        code |= flag.astype(np.int64) << bit
    human = (code & 0b111) > 0
    low = (code & 0b1111111 == 0) | ((p_error > cfg.low_confidence) & ~human)
    return code | (low.astype(np.int64) << 8)


def _reasons_of(code: int) -> tuple[str, ...]:
    human = [name for bit, name in enumerate(_HUMAN) if code >> bit & 1]
    model = [name for bit, name in enumerate(_MODEL) if code >> (bit + 3) & 1]
    reasons = model + human if code >> 7 & 1 else human + model
    if code >> 8 & 1:
        reasons.append("low_confidence")
    return tuple(reasons)


class _Lists:
    """Python-list views of the arrays the per-item loop reads (numpy scalar indexing is slow)."""

    def __init__(self, result: ConsensusResult) -> None:
        ar = result.arrays
        self.keys = list(ar.classes) + [None]
        self.no_cell = ar.no_cell
        self.label_class = ar.label_class.tolist()
        self.label_ann = [ar.annotator_ids[a] for a in ar.label_annotator.tolist()]
        self.miss_ann = [ar.annotator_ids[a] for a in ar.miss_annotator.tolist()]
        self.label_ids = ar.label_ids
        self.model_class = ar.model_class.tolist()
        self.task = [ar.task_ids[t] for t in ar.cell_task.tolist()]
        self.x, self.y = ar.cell_x.tolist(), ar.cell_y.tolist()


def review_queue(result: ConsensusResult, config: ReviewConfig | None = None) -> tuple[ReviewItem, ...]:
    """Review items with score >= min_score, best first, each with reason codes and competing labels."""
    cfg = config or ReviewConfig()
    ar, d = result.arrays, disagreement_arrays(result)
    scores, p_error = _scores(result, cfg, d)
    idx = np.flatnonzero(d.labelled & (scores >= cfg.min_score))
    idx = idx[np.lexsort((idx, -scores[idx]))]
    if cfg.max_items is not None:
        idx = idx[: cfg.max_items]
    v = _Lists(result)
    codes = _reason_codes(d, cfg, p_error)[idx].tolist()
    reason_cache: dict[int, tuple[str, ...]] = {}
    l_order, l_start = group_rows(ar.label_cell, ar.n_cells)
    m_order, m_start = group_rows(ar.miss_cell, ar.n_cells)
    l_order, l_start, m_order, m_start = l_order.tolist(), l_start.tolist(), m_order.tolist(), m_start.tolist()
    post = ar.posterior[idx].tolist()
    items, score_list = [], scores[idx].tolist()
    with bulk_objects():
        for row, i in enumerate(idx.tolist()):
            code = codes[row]
            reasons = reason_cache.get(code) or reason_cache.setdefault(code, _reasons_of(code))
            competing = _competing(v, i, post[row], l_order[l_start[i]:l_start[i + 1]],
                                   m_order[m_start[i]:m_start[i + 1]])
            items.append(ReviewItem(task_id=v.task[i], index=i, score=score_list[row], reason=reasons[0],
                                    reasons=reasons, x=v.x[i], y=v.y[i], competing=competing))
    return tuple(items)


def _competing(v: _Lists, i: int, post: list[float], labels: list[int], misses: list[int]
               ) -> tuple[CompetingLabel, ...]:
    groups: dict[int, tuple[list, list]] = {}
    for j in labels:
        g = groups.setdefault(v.label_class[j], ([], []))
        g[0].append(v.label_ann[j])
        g[1].append(v.label_ids[j])
    if misses:
        groups[v.no_cell] = ([v.miss_ann[j] for j in misses], [])
    out = [CompetingLabel(class_key=v.keys[c], source="annotators", annotator_ids=tuple(a), label_ids=tuple(lid),
                          posterior=post[c]) for c, (a, lid) in groups.items()]
    mc = v.model_class[i]
    if mc >= 0:
        out.append(CompetingLabel(class_key=v.keys[mc], source="model", annotator_ids=(), label_ids=(),
                                  posterior=post[mc]))
    out.sort(key=lambda c: -c.posterior)
    return tuple(out)
