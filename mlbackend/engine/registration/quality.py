"""Quality of a registration: similarity before/after, residual error, QA map, status."""

from __future__ import annotations

import cv2
import numpy as np

from annotation.imaging.transform import SlideTransform

from .blocks import BlockMatches, mapped_grid
from .fine import MIN_NCC, MIN_PSR
from .types import QAMap

QA_CELLS = 16  # QA map cells along the longer side
OK_RESIDUAL_UM = 2.0
OK_INLIER_FRACTION = 0.5


def warp_to_fixed(moving: np.ndarray, shape: tuple[int, int], t: SlideTransform, s_he: np.ndarray,
                  s_if: np.ndarray) -> np.ndarray:
    """Resample a moving thumbnail onto the fixed thumbnail grid through a level-0 transform."""
    h, w = shape
    qx, qy = mapped_grid(t, 0.0, 0.0, float(s_he[0, 0]), w, h)
    inv = np.linalg.inv(s_if)
    mx, my = inv[0, 0] * qx + inv[0, 2], inv[1, 1] * qy + inv[1, 2]
    return cv2.remap(moving.astype(np.float32), mx.astype(np.float32), my.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=-1.0)


def similarity(fixed: np.ndarray, fmask: np.ndarray, moving: np.ndarray, mmask: np.ndarray,
               t: SlideTransform, s_he: np.ndarray, s_if: np.ndarray) -> float:
    """NCC of the nuclear thumbnails over tissue shared under ``t`` (0 when they do not overlap)."""
    mw = warp_to_fixed(moving, fixed.shape, t, s_he, s_if)
    mk = warp_to_fixed(mmask.astype(np.float32), fixed.shape, t, s_he, s_if) > 0.5
    both = fmask & mk & (mw >= 0)
    if both.sum() < 50:
        return 0.0
    a, b = fixed[both].astype(np.float64), mw[both].astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-12))


def residuals_um(m: BlockMatches, he_mpp: float) -> tuple[np.ndarray, np.ndarray]:
    """Residual error (um) at validation blocks with a trustworthy peak, and that mask."""
    good = (m.ncc >= MIN_NCC) & (m.psr >= MIN_PSR)
    return np.linalg.norm(m.shifts, axis=1) * he_mpp, good


def qa_map(m: BlockMatches, he_size: tuple[int, int], he_mpp: float) -> QAMap:
    """Median residual (um) and share of trustworthy blocks per coarse cell of the H&E slide."""
    step = max(he_size) / QA_CELLS
    cols, rows = int(np.ceil(he_size[0] / step)), int(np.ceil(he_size[1] / step))
    err = np.full((rows, cols), np.nan, np.float32)
    conf = np.zeros((rows, cols), np.float32)
    res, good = residuals_um(m, he_mpp)
    if len(res):
        ci = np.clip((m.centres[:, 0] // step).astype(int), 0, cols - 1)
        ri = np.clip((m.centres[:, 1] // step).astype(int), 0, rows - 1)
        for r, c in set(zip(ri.tolist(), ci.tolist())):
            sel = (ri == r) & (ci == c)
            conf[r, c] = float(good[sel].mean())
            if (sel & good).any():
                err[r, c] = float(np.median(res[sel & good]))
    return QAMap(error_um=err, confidence=conf, step_px=float(step))


def decide_status(metrics: dict, notes: list[str]) -> tuple[str, str]:
    """``ok`` only when the blocks agree, held-out residuals are small and the alignment beats a null."""
    if metrics.get("n_inlier_blocks", 0) < 6:
        return "failed", "blocks do not agree on an alignment: the slides may not show the same section"
    if metrics.get("n_validation_blocks", 0) < 3:
        return "failed", "too few held-out blocks could be matched to check the alignment"
    reasons = []
    if metrics["inlier_fraction"] < OK_INLIER_FRACTION:
        reasons.append(f"only {metrics['inlier_fraction']:.0%} of blocks agree")
    if metrics["validation_fraction"] < OK_INLIER_FRACTION:
        reasons.append(f"only {metrics['validation_fraction']:.0%} of held-out blocks match")
    if metrics["residual_um"] is None or metrics["residual_um"] > OK_RESIDUAL_UM:
        reasons.append(f"median residual {metrics['residual_um'] or float('nan'):.2f} um")
    if metrics["similarity_after"] <= metrics["similarity_null"] + 0.05:
        reasons.append("alignment is not clearly better than a deliberately wrong one")
    reasons += [n for n in notes if n in ("grid dropped", "fold removed")]
    if reasons:
        return "low_confidence", "; ".join(reasons)
    return "ok", ""
