"""Smooth tissue fields (tissue mask, lumens, eosin structure, cellularity) in H&E level-0 pixels.

Fields come in two steps: ``raw_fields`` evaluates smooth noise at any points (cheap to interpolate),
``finish_fields`` applies the sharp non-linear parts per output pixel so edges stay crisp.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from mlbackend.engine.synthetic.config import SceneConfig
from mlbackend.engine.synthetic.glomeruli import glomerulus_rho, tuft_and_bowman
from mlbackend.engine.synthetic.noise import fbm, interp_index, upsample, value_noise


@dataclass(frozen=True)
class Fields:
    """Per-pixel tissue fields in [0, 1]."""

    tissue: np.ndarray  # 1 inside tissue, 0 on glass (soft edge)
    lumen: np.ndarray  # 1 in empty spaces inside tissue
    eosin: np.ndarray  # eosin density where there is tissue
    cellularity: np.ndarray | None  # relative nucleus density (only where asked for)


def _envelope(t: np.ndarray) -> np.ndarray:
    """1 in the middle of the slide, 0 at its edges (t in slide-normalised units 0..1)."""
    return np.clip(1.0 - np.abs(2.0 * t - 1.0) ** 4, 0.0, 1.0)


def raw_fields(
    cfg: SceneConfig, x: np.ndarray, y: np.ndarray, pixel_px: float = 1.0, cellularity: bool = False
) -> dict[str, np.ndarray]:
    """Smooth fields at H&E level-0 points; detail finer than ``pixel_px`` is replaced by its mean."""
    um = 1.0 / cfg.mpp_he
    s = cfg.seed * 7919
    lod = 2.0 * pixel_px
    span = 0.35 * min(cfg.width, cfg.height)
    env = _envelope(np.asarray(x) / cfg.width) * _envelope(np.asarray(y) / cfg.height)
    out = {
        "tissue": env + 1.7 * (fbm(x, y, span, 3, s + 1, lod) - 0.5),
        "lumen": fbm(x, y, 90.0 * um, 2, s + 2, lod),
    }
    eosin = 0.30 + 0.75 * fbm(x, y, 45.0 * um, 4, s + 3, lod)
    if 20.0 * um >= lod:  # fibre-like ridges where a noise crosses its median
        eosin = eosin + 0.35 * (1.0 - np.abs(2.0 * value_noise(x, y, 20.0 * um, s + 4) - 1.0)) ** 3
    else:
        eosin = eosin + 0.35 * 0.25
    out["eosin"] = eosin
    out["glom"] = glomerulus_rho(cfg, x, y)
    # capillary loops inside the tufts: small holes where a fine noise is high
    out["capillary"] = fbm(x, y, 12.0 * um, 2, s + 6, lod)
    if cellularity:
        out["cellularity"] = fbm(x, y, 60.0 * um, 2, s + 5, lod)
    return out


def _step(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Smoothstep from lo to hi (few temporaries: this runs on every output pixel)."""
    t = np.subtract(v, lo)
    t *= 1.0 / (hi - lo)
    np.clip(t, 0.0, 1.0, out=t)
    out = t * -2.0
    out += 3.0
    out *= t
    out *= t
    return out


def finish_fields(raw: dict[str, np.ndarray], edge: float = 0.02) -> Fields:
    """Turn raw smooth fields into the tissue mask, lumens, eosin density and cellularity."""
    tissue = _step(raw["tissue"], 0.45 - edge, 0.45 + edge)
    lumen = _step(raw["lumen"], 0.66 - edge, 0.66 + edge)
    tuft, bowman = tuft_and_bowman(raw["glom"], 0.02 + 0.5 * edge)
    capillary = tuft * _step(raw["capillary"], 0.64 - 2 * edge, 0.64 + 2 * edge)
    lumen = np.maximum(np.maximum(lumen * (1.0 - tuft), bowman), capillary)
    eosin = raw["eosin"] + 0.25 * tuft
    cell = raw.get("cellularity")
    cellularity = None
    if cell is not None:  # dense tufts, sparser interstitium
        cellularity = np.clip(-0.05 + 1.8 * (cell - 0.35) + 0.75 * tuft, 0.04, 0.97)
    return Fields(tissue=tissue, lumen=lumen, eosin=eosin, cellularity=cellularity)


def occupancy(cfg: SceneConfig, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Probability that a nucleus slot centred at (x, y) holds a nucleus."""
    f = finish_fields(raw_fields(cfg, x, y, cellularity=True), edge=0.005)
    return f.cellularity * f.tissue * (1.0 - f.lumen)


def _upsample_fields(
    raw: dict[str, np.ndarray], col0: float, row0: float, nx0: int, ny0: int, step: int, w: int, h: int,
    px: np.ndarray, py: np.ndarray, node: float,
) -> dict[str, np.ndarray]:
    """Coarse node grids -> output pixels; cv2.resize when the region starts on a whole output pixel."""
    if abs(col0 - round(col0)) < 1e-9 and abs(row0 - round(row0)) < 1e-9 and step % 2 == 0:
        # cv2.resize maps big pixel j to node coordinate (j + 0.5) / step - 0.5, which equals output
        # pixel i's coordinate for j = i + off with these (integer) offsets
        off_x = int(round(col0)) - nx0 * step + step // 2
        off_y = int(round(row0)) - ny0 * step + step // 2
        out = {}
        for k, v in raw.items():
            v32 = np.ascontiguousarray(v, dtype=np.float32)
            big = cv2.resize(v32, (v32.shape[1] * step, v32.shape[0] * step), interpolation=cv2.INTER_LINEAR)
            out[k] = big[off_y : off_y + h, off_x : off_x + w]
        return out
    ix = interp_index(px, nx0, raw["tissue"].shape[1], node)
    iy = interp_index(py, ny0, raw["tissue"].shape[0], node)
    return {k: upsample(v, iy, ix) for k, v in raw.items()}


def grid_fields(
    cfg: SceneConfig,
    x0: float,
    y0: float,
    w: int,
    h: int,
    downsample: float,
    step: int = 8,
    to_he: Callable[[np.ndarray], np.ndarray] | None = None,
    he_px_per_px: float = 1.0,
    smooth_edges: bool = False,
) -> Fields:
    """Fields at the output pixel centres of a region, via a globally aligned coarse grid.

    The region is in H&E level-0 px, or in another frame when ``to_he`` maps (N, 2) points of that frame
    to H&E level-0 px (``he_px_per_px`` = H&E px per frame px, for the level of detail). With
    ``smooth_edges`` the non-linear step is applied on the coarse grid (cheaper, edges blurred over a node).
    """
    d = float(downsample)
    node = step * d
    px = x0 + (np.arange(w) + 0.5) * d
    py = y0 + (np.arange(h) + 0.5) * d
    nx0, ny0 = int(np.floor(px[0] / node)), int(np.floor(py[0] / node))
    nx = int(np.floor(px[-1] / node)) - nx0 + 2
    ny = int(np.floor(py[-1] / node)) - ny0 + 2
    gx = (nx0 + np.arange(nx)) * node
    gy = (ny0 + np.arange(ny)) * node
    if to_he is None:
        raw = raw_fields(cfg, gx[None, :], gy[:, None], pixel_px=node / 2)
    else:
        mx, my = np.meshgrid(gx, gy)
        p = to_he(np.stack([mx.ravel(), my.ravel()], axis=1))
        flat = raw_fields(cfg, p[:, 0], p[:, 1], pixel_px=node / 2 * he_px_per_px)
        raw = {k: v.reshape(ny, nx) for k, v in flat.items()}
    edge = 0.02 + 0.004 * d * he_px_per_px
    if smooth_edges:
        f = finish_fields(raw, edge=edge)
        raw = {"tissue": f.tissue, "lumen": f.lumen, "eosin": f.eosin}
    up = _upsample_fields(raw, x0 / d, y0 / d, nx0, ny0, step, w, h, px, py, node)
    if smooth_edges:
        return Fields(tissue=up["tissue"], lumen=up["lumen"], eosin=up["eosin"], cellularity=None)
    return finish_fields(up, edge=edge)
