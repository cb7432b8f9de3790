"""Pixel and instance segmentation metrics computed from one contingency table of label images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class PanopticScores:
    """Panoptic quality and its factors: detection quality (DQ) and segmentation quality (SQ)."""

    pq: float
    sq: float
    dq: float
    tp: int
    fp: int
    fn: int


@dataclass(frozen=True)
class _Overlap:
    inter: np.ndarray  # (n_true, n_pred) pixel counts
    area_true: np.ndarray  # (n_true,)
    area_pred: np.ndarray  # (n_pred,)

    @property
    def union(self) -> np.ndarray:
        return self.area_true[:, None] + self.area_pred[None, :] - self.inter


def _overlap(true: np.ndarray, pred: np.ndarray) -> _Overlap:
    """Intersection counts between every true and predicted instance (0 is background)."""
    if true.shape != pred.shape:
        raise ValueError(f"shape mismatch: {true.shape} vs {pred.shape}")
    t = np.asarray(true).ravel()
    p = np.asarray(pred).ravel()
    t_ids = np.unique(t[t != 0])
    p_ids = np.unique(p[p != 0])
    # Index 0 is background; instance k of the sorted ids becomes index k + 1.
    t_idx = np.where(t != 0, np.searchsorted(t_ids, t) + 1, 0)
    p_idx = np.where(p != 0, np.searchsorted(p_ids, p) + 1, 0)
    n_t, n_p = len(t_ids) + 1, len(p_ids) + 1
    table = np.bincount(t_idx * n_p + p_idx, minlength=n_t * n_p).reshape(n_t, n_p).astype(np.float64)
    return _Overlap(inter=table[1:, 1:], area_true=table[1:, :].sum(axis=1), area_pred=table[:, 1:].sum(axis=0))


def dice(true: np.ndarray, pred: np.ndarray) -> float:
    """Binary Dice of the foregrounds (non-zero pixels) of two masks; 1.0 when both are empty."""
    a = np.asarray(true) != 0
    b = np.asarray(pred) != 0
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return 1.0
    return 2.0 * float(np.logical_and(a, b).sum()) / total


def aggregated_jaccard_index(
    true: np.ndarray, pred: np.ndarray, match: Literal["iou", "intersection"] = "iou"
) -> float:
    """Aggregated Jaccard Index of two instance label images; 0.0 when either has no instances.

    Each true instance is paired with the overlapping prediction(s) of largest IoU (``match="iou"``, Kumar
    et al. 2017) or largest intersection (``match="intersection"``); tied maxima are all counted. Predictions
    never paired add their area to the union, as do unpaired true instances.
    """
    ov = _overlap(true, pred)
    if ov.inter.size == 0:
        return 0.0
    union = ov.union
    score = ov.inter / union if match == "iou" else ov.inter.copy()
    row_max = score.max(axis=1, keepdims=True)
    paired = (score == row_max) & (ov.inter > 0)
    inter_sum = float(ov.inter[paired].sum())
    union_sum = float(union[paired].sum())
    union_sum += float(ov.area_true[~paired.any(axis=1)].sum())
    union_sum += float(ov.area_pred[~paired.any(axis=0)].sum())
    return inter_sum / union_sum if union_sum > 0 else 0.0


def panoptic_quality(true: np.ndarray, pred: np.ndarray, iou_threshold: float = 0.5) -> PanopticScores:
    """Panoptic quality with pairs matched at IoU strictly above ``iou_threshold`` (>= 0.5, so unique)."""
    if not 0.5 <= iou_threshold <= 1.0:
        raise ValueError("iou_threshold must be in [0.5, 1] so that matches are unique")
    ov = _overlap(true, pred)
    n_true, n_pred = ov.inter.shape
    if n_true == 0 or n_pred == 0:
        return PanopticScores(pq=0.0, sq=0.0, dq=0.0, tp=0, fp=n_pred, fn=n_true)
    iou = ov.inter / ov.union
    matched = iou > iou_threshold
    tp = int(matched.sum())
    fp, fn = n_pred - tp, n_true - tp
    dq = tp / (tp + 0.5 * fp + 0.5 * fn)
    sq = float(iou[matched].sum()) / tp if tp else 0.0
    return PanopticScores(pq=dq * sq, sq=sq, dq=dq, tp=tp, fp=fp, fn=fn)


def pixel_class_f1(true: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Per-class pixel F1 of two class maps (ids 0..num_classes-1); NaN for a class absent from both."""
    t = np.asarray(true).ravel().astype(np.int64)
    p = np.asarray(pred).ravel().astype(np.int64)
    conf = np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    tp = np.diag(conf).astype(np.float64)
    fp = conf.sum(axis=0) - tp
    fn = conf.sum(axis=1) - tp
    denom = tp + 0.5 * (fp + fn)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, tp / np.where(denom > 0, denom, 1.0), np.nan)
