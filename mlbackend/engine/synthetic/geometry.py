"""The known H&E -> IF transform of a synthetic pair (affine + smooth displacement) and its inverse."""

from __future__ import annotations

import numpy as np

from annotation.imaging.transform import DisplacementGrid, SlideTransform
from mlbackend.engine.synthetic.config import SceneConfig
from mlbackend.engine.synthetic.noise import fbm

IF_MARGIN_PX = 32.0


def linear_part(cfg: SceneConfig) -> np.ndarray:
    """2x2 linear map H&E px -> IF px: pixel-size ratio x extra scale x rotation (x optional mirror)."""
    s = cfg.mpp_he / cfg.mpp_if * cfg.extra_scale
    t = np.deg2rad(cfg.rotation_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    mirror = np.diag([-1.0, 1.0]) if cfg.mirror else np.eye(2)
    return s * rot @ mirror


def displacement_grid(cfg: SceneConfig) -> DisplacementGrid | None:
    """Smooth random displacement (peak ``warp_um``) on a coarse grid over the H&E slide."""
    if cfg.warp_um <= 0:
        return None
    scale_px = cfg.warp_scale_um / cfg.mpp_he
    step = float(max(32.0, min(scale_px / 2.0, max(cfg.width, cfg.height) / 4.0)))
    cols = int(np.ceil(cfg.width / step)) + 1
    rows = int(np.ceil(cfg.height / step)) + 1
    gx, gy = np.meshgrid(np.arange(cols) * step, np.arange(rows) * step)
    out = []
    for salt in (11, 13):
        v = 2.0 * fbm(gx, gy, scale_px, 2, cfg.seed * 7919 + salt) - 1.0
        peak = float(np.abs(v).max()) or 1.0
        out.append((v / peak * cfg.warp_um / cfg.mpp_he).astype(np.float32))
    return DisplacementGrid(step_px=step, dx=out[0], dy=out[1])


def build_transform(cfg: SceneConfig) -> tuple[SlideTransform, tuple[int, int]]:
    """The pair's SlideTransform and the IF level-0 canvas size (width, height)."""
    lin = linear_part(cfg)
    grid = displacement_grid(cfg)
    corners = np.array([[0, 0], [cfg.width, 0], [0, cfg.height], [cfg.width, cfg.height]], dtype=np.float64)
    mapped = corners @ lin.T
    slack = (cfg.warp_um / cfg.mpp_if) * 1.5 + IF_MARGIN_PX
    shift = np.asarray(cfg.shift_um, dtype=np.float64) / cfg.mpp_if
    # the shift moves the tissue off-centre inside a canvas large enough for any sign of shift
    offset = -mapped.min(axis=0) + slack + np.abs(shift) + shift
    matrix = np.hstack([lin, offset[:, None]])
    size = mapped.max(axis=0) - mapped.min(axis=0) + 2 * slack + 2 * np.abs(shift)
    w_if = int(np.ceil(size[0] * min(max(cfg.if_overlap, 0.05), 1.0)))
    h_if = int(np.ceil(size[1]))
    meta = {"mpp_he": cfg.mpp_he, "mpp_if": cfg.mpp_if, "rotation_deg": cfg.rotation_deg, "mirror": cfg.mirror}
    transform = SlideTransform(
        affine=(tuple(map(float, matrix[0])), tuple(map(float, matrix[1]))), grid=grid, meta=meta
    )
    return transform, (w_if, h_if)


def inverse_points(transform: SlideTransform, q: np.ndarray, iterations: int = 4) -> np.ndarray:
    """Map (N, 2) IF level-0 points back to H&E level-0 points (fixed-point solve of the displacement)."""
    m = transform.matrix
    inv = np.linalg.inv(m)
    qq = np.asarray(q, dtype=np.float64).reshape(-1, 2)
    base = np.stack(
        [inv[0, 0] * qq[:, 0] + inv[0, 1] * qq[:, 1] + inv[0, 2], inv[1, 0] * qq[:, 0] + inv[1, 1] * qq[:, 1] + inv[1, 2]],
        axis=1,
    )
    if transform.grid is None:
        return base
    p = base.copy()
    for _ in range(iterations):
        dx, dy = transform.grid.sample(p[:, 0], p[:, 1])
        p = base - np.stack([dx, dy], axis=1)
    return p
