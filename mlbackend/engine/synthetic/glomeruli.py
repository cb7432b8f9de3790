"""Round glomeruli: dense cell tufts with capillary loops, ringed by an empty Bowman's space.

Glomeruli sit on a coarse jittered grid (``glomerulus_spacing_um``); the field handed to the renderers
is the distance to the nearest glomerulus centre in units of its radius (rho < 1: tuft).
"""

from __future__ import annotations

import numpy as np

from mlbackend.engine.synthetic.config import SceneConfig
from mlbackend.engine.synthetic.noise import hash_u64, uniform_from

RHO_CAP = 3.0
BOWMAN_WIDTH = 0.16  # Bowman's space thickness as a fraction of the tuft radius


def _glomeruli_near(cfg: SceneConfig, gx0: int, gx1: int, gy0: int, gy1: int) -> np.ndarray:
    """(K, 5) centre x, centre y, radius, phase3, phase5 of glomeruli in slots [gx0, gx1] x [gy0, gy1]."""
    spacing = cfg.glomerulus_spacing_um / cfg.mpp_he
    sy, sx = np.meshgrid(np.arange(gy0, gy1 + 1), np.arange(gx0, gx1 + 1), indexing="ij")
    sx, sy = sx.ravel(), sy.ravel()
    h = hash_u64(cfg.seed, sx, sy, 0x610)
    present = uniform_from(h, 0) < cfg.glomerulus_fraction
    out = np.stack([
        (sx + 0.5 + 0.5 * (uniform_from(h, 1) - 0.5)) * spacing,
        (sy + 0.5 + 0.5 * (uniform_from(h, 2) - 0.5)) * spacing,
        (65.0 + 45.0 * uniform_from(h, 3)) / cfg.mpp_he,
        6.3 * uniform_from(h, 4),
        6.3 * uniform_from(h, 5),
    ], axis=1)
    return out[present]


def glomerulus_rho(cfg: SceneConfig, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance to the nearest glomerulus centre over its radius (capped at RHO_CAP) at H&E level-0 points."""
    xb, yb = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    rho = np.full(xb.shape, RHO_CAP)
    if cfg.glomerulus_fraction <= 0 or xb.size == 0:
        return rho
    spacing = cfg.glomerulus_spacing_um / cfg.mpp_he
    # every point's nearest glomerulus lies in its own slot or a neighbouring one
    gx0, gx1 = int(np.floor(xb.min() / spacing)) - 1, int(np.floor(xb.max() / spacing)) + 1
    gy0, gy1 = int(np.floor(yb.min() / spacing)) - 1, int(np.floor(yb.max() / spacing)) + 1
    glomeruli = _glomeruli_near(cfg, gx0, gx1, gy0, gy1)
    if len(glomeruli) * xb.size > 20_000_000 and xb.size > 1:  # huge point sets: split to bound the work
        axis = int(np.argmax(xb.shape))
        a, b = np.array_split(xb, 2, axis=axis), np.array_split(yb, 2, axis=axis)
        return np.concatenate([glomerulus_rho(cfg, a[0], b[0]), glomerulus_rho(cfg, a[1], b[1])], axis=axis)
    for cx, cy, radius, p3, p5 in glomeruli:
        reach = RHO_CAP * radius * 1.2
        ddx, ddy = xb - cx, yb - cy
        near = (np.abs(ddx) < reach) & (np.abs(ddy) < reach)
        if not near.any():
            continue
        nx, ny = ddx[near], ddy[near]
        theta = np.arctan2(ny, nx)
        wobble = 1.0 + 0.07 * np.cos(3 * theta + p3) + 0.04 * np.cos(5 * theta + p5)
        rho[near] = np.minimum(rho[near], np.hypot(nx, ny) / (radius * wobble))
    return rho


def tuft_and_bowman(rho: np.ndarray, edge: float) -> tuple[np.ndarray, np.ndarray]:
    """Soft masks of the glomerular tuft (rho < 1) and of Bowman's space (a ring just outside it)."""
    def step(v: np.ndarray, at: float) -> np.ndarray:
        t = np.clip((v - (at - edge)) / (2 * edge), 0.0, 1.0)
        return t * t * (3.0 - 2.0 * t)

    tuft = 1.0 - step(rho, 1.0)
    bowman = step(rho, 1.0 + edge) * (1.0 - step(rho, 1.0 + BOWMAN_WIDTH))
    return tuft.astype(np.float32), bowman.astype(np.float32)
