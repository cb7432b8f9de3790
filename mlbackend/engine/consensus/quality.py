"""Annotator quality: accuracy against gold cells, agreement with consensus, labelling speed."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from mlbackend.engine.consensus.build import ConsensusResult
from mlbackend.engine.consensus.matching import sparse_assignment
from mlbackend.engine.consensus.types import AnnotatorLabel, ClassKey


@dataclass(frozen=True)
class GoldCell:
    """A trusted cell (expert label) in level-0 px."""

    x: float
    y: float
    class_key: ClassKey


@dataclass(frozen=True)
class GoldScore:
    """One annotator against gold: detection precision/recall (within radius) and class accuracy."""

    annotator_id: Hashable
    n_labels: int
    n_gold: int
    n_matched: int
    precision: float
    recall: float
    f1: float
    class_accuracy: float | None


@dataclass(frozen=True)
class ConsensusAgreement:
    """One annotator against consensus: class agreement, share of labels on real cells, recall."""

    annotator_id: Hashable
    n_labels: int
    class_agreement: float | None
    label_precision: float | None
    recall: float | None
    reliability: float


@dataclass(frozen=True)
class LabellingSpeed:
    """Labels per active minute; gaps longer than idle_gap_s count as breaks, not work."""

    annotator_id: Hashable
    n_labels: int
    active_minutes: float
    cells_per_minute: float | None


def match_to_gold(labels: Sequence[AnnotatorLabel], gold: Sequence[GoldCell], radius_px: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Optimal one-to-one matching of labels to gold cells within radius; returns index pairs."""
    if not labels or not gold:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a = cKDTree(np.array([(lab.x, lab.y) for lab in labels], dtype=np.float64))
    b = cKDTree(np.array([(g.x, g.y) for g in gold], dtype=np.float64))
    pairs = a.sparse_distance_matrix(b, radius_px, output_type="ndarray")
    return sparse_assignment(pairs["i"].astype(np.int64), pairs["j"].astype(np.int64),
                             pairs["v"] / max(radius_px, 1e-9), len(labels), len(gold))


def gold_scores(labels: Sequence[AnnotatorLabel], gold: Sequence[GoldCell], *, mpp: float,
                radius_um: float = 4.0) -> tuple[GoldScore, ...]:
    """Score each annotator's labels against gold cells of the same region (recall assumes full cover)."""
    by_ann: dict[Hashable, list[AnnotatorLabel]] = {}
    for lab in labels:
        by_ann.setdefault(lab.annotator_id, []).append(lab)
    out = []
    for ann, labs in by_ann.items():
        li, gi = match_to_gold(labs, gold, radius_um / mpp)
        n_m = len(li)
        correct = sum(labs[i].class_key == gold[j].class_key for i, j in zip(li.tolist(), gi.tolist()))
        prec = n_m / len(labs) if labs else 0.0
        rec = n_m / len(gold) if gold else 0.0
        out.append(GoldScore(
            annotator_id=ann, n_labels=len(labs), n_gold=len(gold), n_matched=n_m, precision=prec,
            recall=rec, f1=2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0,
            class_accuracy=correct / n_m if n_m else None,
        ))
    return tuple(out)


def consensus_agreement(result: ConsensusResult) -> tuple[ConsensusAgreement, ...]:
    """Per annotator: share of labels agreeing with the consensus class and exhaustive recall."""
    ar = result.arrays
    n_a, none = len(ar.annotator_ids), ar.no_cell
    state = ar.state[ar.label_cell]
    on_cell = (state >= 0) & (state != none)
    agree = on_cell & (ar.label_class == state)
    n_lab = np.bincount(ar.label_annotator, minlength=n_a)
    n_on = np.bincount(ar.label_annotator, weights=on_cell.astype(float), minlength=n_a)
    n_agree = np.bincount(ar.label_annotator, weights=agree.astype(float), minlength=n_a)
    cell_state = ar.state
    is_cell = (cell_state >= 0) & (cell_state != none)
    hit_exh = ar.exhaustive[ar.label_cell] & is_cell[ar.label_cell]
    n_hit = np.bincount(ar.label_annotator, weights=hit_exh.astype(float), minlength=n_a)
    n_miss = np.bincount(ar.miss_annotator, weights=is_cell[ar.miss_cell].astype(float), minlength=n_a)
    out = []
    for a, key in enumerate(ar.annotator_ids):
        out.append(ConsensusAgreement(
            annotator_id=key, n_labels=int(n_lab[a]),
            class_agreement=float(n_agree[a] / n_on[a]) if n_on[a] else None,
            label_precision=float(n_on[a] / n_lab[a]) if n_lab[a] else None,
            recall=float(n_hit[a] / (n_hit[a] + n_miss[a])) if n_hit[a] + n_miss[a] else None,
            reliability=result.annotators[a].reliability,
        ))
    return tuple(out)


def labelling_speed(labels: Sequence[AnnotatorLabel], *, idle_gap_s: float = 300.0) -> tuple[LabellingSpeed, ...]:
    """Cells per active minute from label timestamps (labels without created_at_s are ignored)."""
    times: dict[Hashable, list[float]] = {}
    for lab in labels:
        if lab.created_at_s is not None:
            times.setdefault(lab.annotator_id, []).append(float(lab.created_at_s))
    out = []
    for ann, ts in times.items():
        gaps = np.diff(np.sort(np.array(ts)))
        worked = gaps[gaps <= idle_gap_s]
        minutes = float(worked.sum()) / 60.0
        out.append(LabellingSpeed(annotator_id=ann, n_labels=len(ts), active_minutes=minutes,
                                  cells_per_minute=len(worked) / minutes if minutes > 0 else None))
    return tuple(out)
