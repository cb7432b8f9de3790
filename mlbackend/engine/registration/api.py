"""The one entry point: register an IF slide onto an H&E slide."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotation.imaging.transform import SlideTransform

from . import quality
from .blocks import match_blocks, sample_centres
from .coarse import coarse_align
from .fine import fit_transform
from .preprocess import (
    he_nuclear,
    he_tissue_mask,
    if_channel_index,
    if_nuclear,
    if_tissue_mask,
    normalise,
    require_tissue,
)
from .slides import SlideView, read_downsampled, scale_matrix, slide_view
from .types import ProgressFn, RegistrationConfig, RegistrationError, RegistrationResult, SlideReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Thumbs:
    fixed: np.ndarray
    fmask: np.ndarray
    moving: np.ndarray
    mmask: np.ndarray
    s_he: np.ndarray  # thumbnail px -> H&E level-0 px (3x3)
    s_if: np.ndarray
    mpp: float


def register_pair(he: SlideReader | str | Path, if_: SlideReader | str | Path, *,
                  config: RegistrationConfig | None = None,
                  progress: ProgressFn | None = None) -> RegistrationResult:
    """Register the IF slide onto the H&E slide; never raises for bad input (status ``failed`` instead)."""
    cfg = config or RegistrationConfig()
    report = progress or (lambda fraction, message: None)
    t0 = time.perf_counter()
    warnings: list[str] = []
    try:
        he_r, if_r = _open(he), _open(if_)
        result = _register(he_r, if_r, cfg, report, warnings)
    except RegistrationError as exc:
        log.info("registration failed: %s", exc.reason)
        result = RegistrationResult(SlideTransform.identity(), "failed", exc.reason, {}, warnings)
    metrics = dict(result.metrics, seconds=round(time.perf_counter() - t0, 3))
    report(1.0, f"registration {result.status}")
    return RegistrationResult(result.transform, result.status, result.reason, metrics, result.warnings, result.qa)


def _open(src: SlideReader | str | Path) -> SlideReader:
    if isinstance(src, str | Path):
        from annotation.imaging.readers import open_slide  # the project reader, only needed for paths

        return open_slide(src)
    return src


def _views(he: SlideReader, if_: SlideReader, cfg: RegistrationConfig,
           warnings: list[str]) -> tuple[SlideView, SlideView]:
    hv = slide_view(he, cfg.default_mpp, warnings, "H&E")
    iv = slide_view(if_, cfg.default_mpp, warnings, "IF")
    if hv.mpp_recorded != iv.mpp_recorded:  # borrow the other slide's pixel size: same scanner set-up
        known = hv.mpp if hv.mpp_recorded else iv.mpp
        warnings.append(f"using the other slide's pixel size ({known:g} um/px) for the slide without one")
        hv, iv = (hv, _with_mpp(iv, known)) if hv.mpp_recorded else (_with_mpp(hv, known), iv)
    return hv, iv


def _with_mpp(v: SlideView, mpp: float) -> SlideView:
    return SlideView(v.reader, mpp, False, v.channel_names, v.level_dims, v.level_ds)


def _thumbs(hv: SlideView, iv: SlideView, nuc: int, af: int | None, cfg: RegistrationConfig) -> _Thumbs:
    extent_um = max(max(hv.size) * hv.mpp, max(iv.size) * iv.mpp)
    mpp = max(hv.mpp, iv.mpp, extent_um / cfg.coarse_max_px)
    if hv.channel_names and len(hv.channel_names) < 3:
        raise RegistrationError(f"H&E slide has channels {list(hv.channel_names)}, expected RGB")
    he_img = read_downsampled(hv, mpp / hv.mpp, cfg.max_read_px, (0, 1, 2))
    if_img = read_downsampled(iv, mpp / iv.mpp, cfg.max_read_px, (nuc,) if af is None else (nuc, af))
    nuc, af = 0, (None if af is None else 1)
    fmask = he_tissue_mask(he_img)
    require_tissue(fmask, "H&E")
    mmask = if_tissue_mask(if_img, nuc, af)
    require_tissue(mmask, "IF")
    fixed = normalise(he_nuclear(he_img), mask=fmask)
    moving = normalise(if_nuclear(if_img, nuc, af), mask=mmask)
    return _Thumbs(fixed, fmask, moving, mmask, scale_matrix(mpp / hv.mpp), scale_matrix(mpp / iv.mpp), mpp)


def _register(he: SlideReader, if_: SlideReader, cfg: RegistrationConfig, report: ProgressFn,
              warnings: list[str]) -> RegistrationResult:
    report(0.0, "reading slide geometry")
    hv, iv = _views(he, if_, cfg, warnings)
    nuc = if_channel_index(iv.channel_names, cfg)
    af = if_channel_index(iv.channel_names, cfg, optional=True)
    report(0.05, "reading thumbnails")
    th = _thumbs(hv, iv, nuc, af, cfg)
    report(0.2, "coarse alignment")
    both = hv.mpp_recorded and iv.mpp_recorded
    scale_range = (0.67, 1.5) if both else (0.2, 5.0)
    co = coarse_align(th.fixed, th.moving, th.fmask, th.mmask, scale_range)
    t = SlideTransform.from_matrix(th.s_if @ co.matrix @ np.linalg.inv(th.s_he))
    overlap = th.fmask & (quality.warp_to_fixed(th.mmask.astype(np.float32), th.fixed.shape, t, th.s_he,
                                                th.s_if) > 0.5)
    if overlap.sum() < 0.2 * min(th.fmask.sum(), th.mmask.sum()) and co.ncc < 0.2:
        raise RegistrationError("no tissue overlap found between the slides")
    metrics: dict = {
        "he_mpp": hv.mpp, "if_mpp": iv.mpp, "mpp_recorded": both, "coarse_mpp": th.mpp,
        "coarse_method": co.method, "n_matches": co.n_matches, "coarse_ncc": round(co.ncc, 4),
        "similarity_null": round(co.ncc_null, 4),
    }
    t, last, notes = _fine_passes(hv, iv, t, overlap, th, nuc, af, cfg, report, metrics)
    if metrics.get("n_inlier_blocks", 0) < 6:  # no need to validate what the blocks already reject
        status, reason = quality.decide_status(metrics, notes)
        return RegistrationResult(SlideTransform(t.affine, None, {"status": status}), status, reason, metrics,
                                  warnings)
    report(0.85, "checking the result on held-out blocks")
    val = _validate(hv, iv, t, overlap, th, last.mpp if last is not None else th.mpp, nuc, af, cfg, metrics)
    status, reason = quality.decide_status(metrics, notes)
    warnings += [n for n in notes if n not in warnings]
    meta = {"he_mpp": hv.mpp, "if_mpp": iv.mpp, "status": status}
    final = SlideTransform(t.affine, t.grid, meta)
    if status == "failed":
        final = SlideTransform(t.affine, None, meta)
    return RegistrationResult(final, status, reason, metrics, warnings, quality.qa_map(val, hv.size, hv.mpp))


def _validate(hv: SlideView, iv: SlideView, t: SlideTransform, overlap: np.ndarray, th: _Thumbs,
              mpp: float, nuc: int, af: int | None, cfg: RegistrationConfig, metrics: dict):
    """Residual shifts at held-out blocks (between the fitting blocks) and thumbnail similarity."""
    block = _block_px(hv, mpp, cfg)
    n_val = max(24, min(cfg.max_blocks // 5, int(metrics.get("n_blocks", 0)) // 2))
    vc = sample_centres(overlap, float(th.s_he[0, 0]), block * mpp / hv.mpp, n_val, offset=0.5)
    val = match_blocks(hv, iv, t, vc, mpp, block, nuc, af, cfg.max_read_px)
    res, good = quality.residuals_um(val, hv.mpp)
    before = quality.similarity(th.fixed, th.fmask, th.moving, th.mmask, SlideTransform.identity(), th.s_he,
                                th.s_if)
    after = quality.similarity(th.fixed, th.fmask, th.moving, th.mmask, t, th.s_he, th.s_if)
    metrics.update(
        n_validation_blocks=int(good.sum()), validation_fraction=float(good.mean()) if len(good) else 0.0,
        residual_um=round(float(np.median(res[good])), 4) if good.any() else None,
        residual_p90_um=round(float(np.percentile(res[good], 90)), 4) if good.any() else None,
        similarity_before=round(before, 4), similarity_after=round(after, 4),
        grid_max_um=round(t.grid.max_abs_px() * hv.mpp, 3) if t.grid is not None else 0.0,
    )
    return val


def _block_px(hv: SlideView, mpp: float, cfg: RegistrationConfig) -> int:
    side = min(hv.size) * hv.mpp / mpp
    return int(max(32, min(cfg.block_px, side // 4)) // 2 * 2)


def _pass_mpps(hv: SlideView, coarse_mpp: float, cfg: RegistrationConfig) -> list[float]:
    """Pixel sizes of the non-rigid passes: the final one chosen by the accuracy needed, never below level 0."""
    needed = cfg.target_error_um / cfg.subpixel_px  # coarsest pixel size whose sub-pixel fit reaches the target
    finest = max(hv.mpp, min(needed, coarse_mpp))
    passes = [max(m, hv.mpp) for m in sorted(cfg.fine_mpp, reverse=True) if finest < m < 0.75 * coarse_mpp]
    return passes + [finest]


def _fine_passes(hv: SlideView, iv: SlideView, t: SlideTransform, overlap: np.ndarray, th: _Thumbs, nuc: int,
                 af: int | None, cfg: RegistrationConfig, report: ProgressFn, metrics: dict):
    """Coarse-to-fine block matching passes; each refits the affine and the displacement grid."""
    notes: list[str] = []
    last = None
    mpps = _pass_mpps(hv, th.mpp, cfg)
    mpps = mpps + mpps[-1:] * max(0, cfg.final_iterations - 1)
    for i, mpp in enumerate(mpps):
        report(0.3 + 0.5 * i / len(mpps), f"non-rigid pass {i + 1}/{len(mpps)} at {mpp:g} um/px")
        block = _block_px(hv, mpp, cfg)
        ds_he = mpp / hv.mpp
        n_max = cfg.max_blocks
        if i == len(mpps) - 1:  # the final pass must sample the deformation densely enough on big sections
            area_um2 = float(overlap.sum()) * th.mpp**2
            n_max = int(np.clip(area_um2 / cfg.block_spacing_um**2, cfg.max_blocks, cfg.max_blocks_final))
            if n_max > cfg.max_blocks:  # many small blocks: a finer field at the same reading cost
                block = min(block, cfg.final_block_px)
        centres = sample_centres(overlap, float(th.s_he[0, 0]), block * ds_he, n_max)
        m = match_blocks(hv, iv, t, centres, mpp, block, nuc, af, cfg.max_read_px)
        tol = (3.0 if i == 0 else 2.0) * ds_he
        fit = fit_transform(t, m, hv.size, tol, cfg.max_displacement_um / hv.mpp, cfg.local_grid)
        notes += [n for n in fit.notes if n not in notes]
        metrics.update(n_blocks=len(centres), n_inlier_blocks=int(fit.inliers.sum()),
                       inlier_fraction=float(fit.inliers.mean()) if len(centres) else 0.0)
        if fit.inliers.sum() < 6:
            break
        t, last = fit.transform, m
    metrics["passes_mpp"] = mpps
    return t, last, notes
