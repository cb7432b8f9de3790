"""H&E brightfield rendering of any region at any downsample (Beer-Lambert stain mixing)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from mlbackend.engine.synthetic import raster
from mlbackend.engine.synthetic.cells import CellBatch, concat, iter_cell_batches
from mlbackend.engine.synthetic.config import MEAN_RADIUS_UM, SceneConfig
from mlbackend.engine.synthetic.fields import grid_fields
from mlbackend.engine.synthetic.noise import normal, texture_window, textures

H_OD = np.array([1.15, 1.35, 0.55], dtype=np.float32)  # optical density per unit haematoxylin (R, G, B)
E_OD = np.array([0.10, 0.55, 0.27], dtype=np.float32)  # per unit eosin
GLASS_OD = np.array([0.02, 0.02, 0.03], dtype=np.float32)
MARGIN = 4  # output px rendered beyond the region so blurs are seamless between tiles


def stain_vectors(cfg: SceneConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per-slide stain colours: the reference vectors with a small seeded batch variation."""
    jitter = normal(cfg.seed, np.arange(6), 0x5A).astype(np.float32)
    h = H_OD * (1.0 + 0.06 * jitter[:3])
    e = E_OD * (1.0 + 0.08 * jitter[3:])
    return h, e


def cells_for_canvas(cfg: SceneConfig, ox: float, oy: float, w: int, h: int, d: float) -> CellBatch:
    """All nuclei that can touch a canvas of w x h output px at level-0 origin (ox, oy)."""
    return concat(list(iter_cell_batches(cfg, ox, oy, ox + w * d, oy + h * d)))


def nucleus_density(cfg: SceneConfig, cells: CellBatch, ox: float, oy: float, w: int, h: int, d: float) -> np.ndarray:
    """Haematoxylin density (h, w) of the nuclei on a canvas."""
    mean_r = MEAN_RADIUS_UM / cfg.mpp_he / d
    centres = raster.to_canvas(np.stack([cells.x, cells.y], axis=1), ox, oy, d)
    if mean_r < raster.SPLAT_BELOW_PX:
        area = np.pi * cells.axis_a * cells.axis_b / (d * d)
        return raster.blur(raster.splat(centres, cells.stain * area, h, w), 0.5)
    sel = raster.visible(centres, 1.7 * cells.radius / d, w, h)
    cells = cells.take(sel)
    if not len(cells):
        return np.zeros((h, w), np.float32)
    polys = raster.to_canvas(cells.polygons().reshape(-1, 2), ox, oy, d).reshape(len(cells), -1, 2)
    lab = raster.label_image(polys, h, w)
    stain = np.concatenate([[0.0], cells.stain]).astype(np.float32)[lab]
    tex_amp = np.concatenate([[0.0], cells.texture]).astype(np.float32)[lab]
    blobs, _ = textures(cfg.seed)
    tex = texture_window(blobs, int(round(ox / d)), int(round(oy / d)), w, h)
    dens = stain * (1.0 + tex_amp * tex * (1.6 / math.sqrt(d)))
    if d < FINE_CUE_MAX_DOWNSAMPLE and cfg.he_fine_cues > 0:
        _add_fine_cues(cfg, cells, lab, dens, stain, blobs, ox, oy, d)
    rim = raster.edges(lab)
    dens[rim] *= 1.0 + 0.35 / d
    return raster.blur(dens, 0.6)


FINE_CUE_MAX_DOWNSAMPLE = 4.0  # the fine nuclear details are not rendered at coarser levels
CLUMP_SCALE = 3  # coarse chromatin clumps: the blob texture magnified this many times (level-0 px)


def _add_fine_cues(cfg: SceneConfig, cells: CellBatch, lab: np.ndarray, dens: np.ndarray, stain: np.ndarray,
                   blobs: np.ndarray, ox: float, oy: float, d: float) -> None:
    """Per-class fine nuclear detail, in place: nucleolus spot, coarse chromatin clumps, rim margination."""
    ys, xs = np.nonzero(lab)
    if not len(ys):
        return
    idx = lab[ys, xs] - 1
    px, py = ox + (xs + 0.5) * d, oy + (ys + 0.5) * d  # level-0 pixel centres
    dx, dy = px - cells.x[idx], py - cells.y[idx]
    ca, sa = np.cos(cells.angle[idx]), np.sin(cells.angle[idx])
    rho = np.hypot((dx * ca + dy * sa) / cells.axis_a[idx], (-dx * sa + dy * ca) / cells.axis_b[idx])
    cues = cells.cues[idx]
    r = cells.radius[idx]
    nx, ny = dx - cells.nucleolus_offset[idx, 0] * r, dy - cells.nucleolus_offset[idx, 1] * r
    sigma = 0.55 / cfg.mpp_he
    spot = np.exp(-(nx * nx + ny * ny) / (2.0 * sigma * sigma))
    rim = np.clip((rho - 0.55) / 0.35, 0.0, 1.0)
    n = blobs.shape[0] // 3
    clump = blobs[(np.floor(py / CLUMP_SCALE).astype(np.int64) + 37) % n, (np.floor(px / CLUMP_SCALE).astype(np.int64) + 211) % n]
    fade = 1.0 / math.sqrt(d)
    clearing = cues[:, 0] * 0.5 * (1.0 - rim) * (1.0 - spot)  # vesicular chromatin around the nucleolus
    factor = 1.0 + fade * (cues[:, 2] * (1.2 * rim - 0.5 * (1.0 - rim)) + 1.2 * cues[:, 1] * clump - clearing)
    dens[ys, xs] = dens[ys, xs] * np.maximum(factor, 0.2) + fade * 2.5 * cues[:, 0] * spot * stain[ys, xs]


def render_he(cfg: SceneConfig, x: float, y: float, w: int, h: int, downsample: float = 1.0) -> np.ndarray:
    """uint8 (h, w, 3) RGB of the H&E region whose top-left is level-0 (x, y), w x h output pixels."""
    d = float(downsample)
    m = MARGIN
    cw, ch = w + 2 * m, h + 2 * m
    ox, oy = x - m * d, y - m * d
    f = grid_fields(cfg, ox, oy, cw, ch, d)
    cells = cells_for_canvas(cfg, ox, oy, cw, ch, d)
    hden = nucleus_density(cfg, cells, ox, oy, cw, ch, d) if len(cells) else np.zeros((ch, cw), np.float32)
    eos = (f.tissue * (1.0 - 0.9 * f.lumen) * f.eosin).astype(np.float32)
    blobs, grain = textures(cfg.seed)
    col0, row0 = int(round(ox / d)), int(round(oy / d))
    if d < 4:  # fine stromal grain, only visible near full resolution
        eos *= 1.0 + (0.12 / d) * texture_window(blobs, col0 + 263, row0 + 151, cw, ch)
    g = texture_window(grain, col0 + 101, row0 + 57, cw, ch) * np.float32(0.012 / math.sqrt(d))
    h_vec, e_vec = stain_vectors(cfg)
    planes = []
    for c in range(3):
        od = hden * h_vec[c] + eos * e_vec[c] + (g + GLASS_OD[c])
        planes.append(cv2.exp(-np.maximum(od, 0.0)))
    out = cv2.convertScaleAbs(cv2.merge(planes), alpha=255.0)
    return np.ascontiguousarray(out[m : m + h, m : m + w])
