"""Coarse alignment on whole-slide thumbnails: orientation search, features, intensity fallback, ECC."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

log = logging.getLogger(__name__)

RATIO = 0.8  # Lowe's ratio test
MIN_INLIERS = 12
FEATURE_SIDE = 512  # longest side of the images SIFT runs on
ECC_SIDE = 256


@dataclass(frozen=True)
class CoarseResult:
    """A 3x3 map from fixed (H&E) thumbnail px to moving (IF) thumbnail px, and how it was found."""

    matrix: np.ndarray
    method: str
    n_matches: int
    ncc: float
    ncc_null: float


def to_u8(a: np.ndarray) -> np.ndarray:
    hi = float(np.percentile(a, 99.8)) if a.size else 0.0
    return np.clip(a / (hi + 1e-9) * 255.0, 0, 255).astype(np.uint8)


def flip_matrix(width: int) -> np.ndarray:
    """Map x -> width - 1 - x (mirror about the vertical axis), 3x3."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _h(a2x3: np.ndarray) -> np.ndarray:
    m = np.eye(3)
    m[:2] = a2x3
    return m


def _detector(kind: str):
    if kind == "orb":
        return cv2.ORB_create(nfeatures=4000, scaleFactor=1.2, nlevels=6, fastThreshold=5), cv2.NORM_HAMMING
    return cv2.SIFT_create(nfeatures=2000, contrastThreshold=0.03), cv2.NORM_L2


def feature_candidates(fixed: np.ndarray, moving: np.ndarray, fmask: np.ndarray, mmask: np.ndarray,
                       scale_range: tuple[float, float], kind: str = "sift") -> list[tuple[np.ndarray, int]]:
    """Similarity estimates from ORB/SIFT matches, moving image as is and mirrored (both are rotation-invariant)."""
    sift, norm = _detector(kind)
    dil = cv2.dilate(fmask.astype(np.uint8), np.ones((9, 9), np.uint8))
    kf, df = sift.detectAndCompute(to_u8(fixed), dil)
    out: list[tuple[np.ndarray, int]] = []
    if df is None or len(kf) < MIN_INLIERS:
        return out
    mdil = cv2.dilate(mmask.astype(np.uint8), np.ones((9, 9), np.uint8))
    for mirrored in (False, True):
        img, msk = (moving[:, ::-1], mdil[:, ::-1]) if mirrored else (moving, mdil)
        km, dm = sift.detectAndCompute(to_u8(np.ascontiguousarray(img)), np.ascontiguousarray(msk))
        if dm is None or len(km) < MIN_INLIERS:
            continue
        pairs = cv2.BFMatcher(norm).knnMatch(df, dm, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
        if len(good) < MIN_INLIERS:
            continue
        src = np.float32([kf[m.queryIdx].pt for m in good])
        dst = np.float32([km[m.trainIdx].pt for m in good])
        a, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0,
                                             maxIters=5000, confidence=0.999, refineIters=20)
        if a is None:
            continue
        scale = float(np.sqrt(abs(np.linalg.det(a[:, :2]))))
        if not scale_range[0] <= scale <= scale_range[1]:
            continue
        h = _h(a)
        if mirrored:
            h = flip_matrix(moving.shape[1]) @ h
        out.append((h, int(inl.sum())))
    return sorted(out, key=lambda c: -c[1])


def _scan(fixed: np.ndarray, moving: np.ndarray, fmask: np.ndarray, mmask: np.ndarray, side: int,
          trials: list[tuple[bool, float]]) -> list[tuple[float, np.ndarray, bool, float]]:
    """Phase-correlation peak for each (mirrored, angle) trial at ``side`` px; maps in full-size px."""
    s = side / max(fixed.shape + moving.shape)
    f = cv2.resize(fixed * fmask, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    m = cv2.resize(moving * mmask, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    size = cv2.getOptimalDFTSize(int(max(f.shape + m.shape) * 1.5))
    canvas_f = np.zeros((size, size), np.float32)
    canvas_f[: f.shape[0], : f.shape[1]] = f
    mc = np.array([(m.shape[1] - 1) / 2, (m.shape[0] - 1) / 2])
    sc = np.diag([1 / s, 1 / s, 1.0])
    out = []
    for mirrored, ang in trials:
        mm = np.ascontiguousarray(m[:, ::-1]) if mirrored else m
        rot = cv2.getRotationMatrix2D((float(mc[0]), float(mc[1])), float(ang), 1.0)
        rot[:, 2] += size / 2 - mc  # centre the rotated moving image on the canvas
        (dx, dy), resp = cv2.phaseCorrelate(canvas_f, cv2.warpAffine(mm, rot, (size, size)))
        w = _h(rot) @ flip_matrix(m.shape[1]) if mirrored else _h(rot)
        h = np.linalg.inv(w) @ np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1.0]])
        out.append((float(resp), sc @ h @ np.linalg.inv(sc), mirrored, float(ang)))
    return sorted(out, key=lambda c: -c[0])


def intensity_candidate(fixed: np.ndarray, moving: np.ndarray, fmask: np.ndarray,
                        mmask: np.ndarray) -> tuple[np.ndarray, float]:
    """Rotation x mirror search by phase correlation (for feature-poor pairs): coarse scan, then refine."""
    trials = [(mir, float(a)) for mir in (False, True) for a in np.arange(0, 360, 6.0)]
    best = _scan(fixed, moving, fmask, mmask, 128, trials)[:3]
    fine = [(mir, a + d) for _, _, mir, a in best for d in np.arange(-6.0, 6.1, 1.5)]
    top = _scan(fixed, moving, fmask, mmask, 256, fine)[0]
    return top[1], top[0]


def ecc_polish(fixed: np.ndarray, moving: np.ndarray, fmask: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Affine refinement maximising the enhanced correlation coefficient; keeps ``h`` if ECC fails."""
    warp = h[:2].astype(np.float32)
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 1e-4)
    try:
        _, warp = cv2.findTransformECC(fixed.astype(np.float32), moving.astype(np.float32), warp,
                                       cv2.MOTION_AFFINE, crit, fmask.astype(np.uint8), 3)
    except cv2.error as exc:
        log.debug("ECC did not converge: %s", exc)
        return h
    out = _h(warp.astype(np.float64))
    shift = np.linalg.norm(out[:2, :2] - h[:2, :2]) * max(fixed.shape) + np.linalg.norm(out[:2, 2] - h[:2, 2])
    return out if shift < 0.1 * max(fixed.shape) else h


def masked_ncc(fixed: np.ndarray, moving: np.ndarray, fmask: np.ndarray, mmask: np.ndarray,
               h: np.ndarray) -> float:
    """Normalised cross-correlation of fixed and the moving image warped by ``h``, over shared tissue."""
    size = (fixed.shape[1], fixed.shape[0])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    mw = cv2.warpAffine(moving.astype(np.float32), h[:2].astype(np.float32), size, flags=flags)
    mk = cv2.warpAffine(mmask.astype(np.uint8), h[:2].astype(np.float32), size, flags=flags) > 0
    both = fmask & mk
    if both.sum() < 50:
        return 0.0
    a, b = fixed[both].astype(np.float64), mw[both].astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-12))


def null_ncc(fixed: np.ndarray, moving: np.ndarray, fmask: np.ndarray, mmask: np.ndarray, h: np.ndarray) -> float:
    """Best NCC of deliberately wrong alignments (rotated/mirrored about the tissue centre)."""
    ys, xs = np.nonzero(fmask)
    c = np.array([xs.mean(), ys.mean()]) if xs.size else np.array(fixed.shape[::-1]) / 2
    vals = []
    for ang, mirror in ((90, False), (180, False), (270, False), (0, True), (180, True)):
        r = _h(cv2.getRotationMatrix2D((float(c[0]), float(c[1])), float(ang), 1.0))
        if mirror:
            r = r @ np.array([[-1, 0, 2 * c[0]], [0, 1, 0], [0, 0, 1.0]])
        vals.append(masked_ncc(fixed, moving, fmask, mmask, h @ r))
    return max(vals)


def _shrink(a: np.ndarray, s: float) -> np.ndarray:
    if s >= 1.0:
        return a
    return cv2.resize(a.astype(np.float32), None, fx=s, fy=s, interpolation=cv2.INTER_AREA)


def _at_scale(fixed, moving, fmask, mmask, side: int):
    """Images shrunk so the longest side is at most ``side``, and the 3x3 map back to full size."""
    s = min(1.0, side / max(fixed.shape + moving.shape))
    imgs = (_shrink(fixed, s), _shrink(moving, s), _shrink(fmask.astype(np.float32), s) > 0.5,
            _shrink(mmask.astype(np.float32), s) > 0.5)
    sc = np.array([[s, 0, (s - 1) / 2], [0, s, (s - 1) / 2], [0, 0, 1.0]])  # full px -> small px
    return imgs, sc


def coarse_align(fixed: np.ndarray, moving: np.ndarray, fmask: np.ndarray, mmask: np.ndarray,
                 scale_range: tuple[float, float]) -> CoarseResult:
    """Best of the feature and intensity candidates after ECC polish, scored by masked NCC."""
    (f, m, fm, mm), sc = _at_scale(fixed, moving, fmask, mmask, FEATURE_SIDE)
    inv = np.linalg.inv(sc)
    cands: list[tuple[np.ndarray, str, int]] = []
    for kind in ("orb", "sift"):  # ORB is ~30x faster; SIFT only when ORB finds too little
        for h, n in feature_candidates(f, m, fm, mm, scale_range, kind)[:2]:
            cands.append((inv @ h @ sc, f"features_{kind}", n))
        best_n = max((c[2] for c in cands), default=0)
        if best_n >= 40:
            break
    if best_n < 40:
        h, _ = intensity_candidate(f, m, fm, mm)
        cands.append((inv @ h @ sc, "phase_correlation", best_n))
    (ef, em, efm, emm), esc = _at_scale(fixed, moving, fmask, mmask, ECC_SIDE)
    einv = np.linalg.inv(esc)
    scored = sorted(((masked_ncc(fixed, moving, fmask, mmask, h), h, method, n) for h, method, n in cands),
                    key=lambda c: -c[0])
    if not scored:
        return CoarseResult(np.eye(3), "none", 0, 0.0, 0.0)
    _, h, method, n = scored[0]  # polish only the winner: ECC is the costliest step here
    h = einv @ ecc_polish(ef, em, efm, esc @ h @ einv) @ esc
    ncc = masked_ncc(fixed, moving, fmask, mmask, h)
    return CoarseResult(h, method, n, ncc, null_ncc(fixed, moving, fmask, mmask, h))
