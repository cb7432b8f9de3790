"""Immunofluorescence rendering in the IF frame: cell outlines pushed through the forward transform."""

from __future__ import annotations

import math

import numpy as np

from annotation.imaging.transform import SlideTransform
from mlbackend.engine.synthetic import raster
from mlbackend.engine.synthetic.cells import CellBatch, concat, iter_cell_batches
from mlbackend.engine.synthetic.config import CHANNELS, MEAN_RADIUS_UM, SceneConfig
from mlbackend.engine.synthetic.fields import Fields, grid_fields
from mlbackend.engine.synthetic.geometry import inverse_points
from mlbackend.engine.synthetic.noise import texture_window, textures

MARGIN = 6
# per channel: tissue background level, outline expansion about the centre, texture amplitude
BACKGROUND = (0.025, 0.03, 0.035, 0.04, 0.0)
EXPAND = (1.0, 1.0, 1.45, 1.75, 1.0)
TEXTURE_AMP = (0.3, 0.15, 0.2, 0.4, 0.0)
OFFSET = 0.01  # camera offset (glass is not black)
UINT16_SCALE = 10000.0
UINT8_SCALE = 150.0


def to_dtype(img: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """Scale float intensities (about 0..2) to the stored integer type."""
    dt = np.dtype(dtype)
    if dt == np.uint8:
        return np.clip(img * UINT8_SCALE + 0.5, 0, 255).astype(np.uint8)
    if dt == np.uint16:
        return np.clip(img * UINT16_SCALE + 0.5, 0, 65535).astype(np.uint16)
    return img.astype(dt)


def if_fields(
    cfg: SceneConfig, transform: SlideTransform, ox: float, oy: float, w: int, h: int, d: float,
    smooth_edges: bool = False,
) -> Fields:
    """Tissue fields seen in the IF frame (sampled through the inverse transform)."""
    return grid_fields(
        cfg, ox, oy, w, h, d, to_he=lambda q: inverse_points(transform, q), he_px_per_px=1.0 / transform.scale(),
        smooth_edges=smooth_edges,
    )


def cells_for_if_canvas(
    cfg: SceneConfig, transform: SlideTransform, ox: float, oy: float, w: int, h: int, d: float
) -> CellBatch:
    """Nuclei whose transformed outline may touch an IF canvas (a superset)."""
    q = np.array([[ox, oy], [ox + w * d, oy], [ox, oy + h * d], [ox + w * d, oy + h * d]])
    p = inverse_points(transform, q, iterations=0)
    warp = transform.grid.max_abs_px() if transform.grid is not None else 0.0
    pad = 2.0 * warp + 2.0 * 6.5 / cfg.mpp_he
    x0, y0 = p.min(axis=0) - pad
    x1, y1 = p.max(axis=0) + pad
    return concat(list(iter_cell_batches(cfg, x0, y0, x1, y1)))


def marker_signal(
    cfg: SceneConfig, transform: SlideTransform, cells: CellBatch, channel: int,
    ox: float, oy: float, w: int, h: int, d: float,
) -> np.ndarray:
    """Float (h, w) cell signal of one channel (DAPI or a marker) on an IF canvas."""
    values = cells.dapi if channel == 0 else cells.markers[:, channel - 1]
    cells = cells.take(values > 0)
    values = values[values > 0]
    if not len(cells):
        return np.zeros((h, w), np.float32)
    scale = transform.scale()
    c_if = transform.map_points(np.stack([cells.x, cells.y], axis=1))
    centres = raster.to_canvas(c_if, ox, oy, d)
    expand = EXPAND[channel]
    mean_r = MEAN_RADIUS_UM / cfg.mpp_he * scale * expand / d
    if mean_r < raster.SPLAT_BELOW_PX:
        area = np.pi * cells.axis_a * cells.axis_b * (scale * expand / d) ** 2
        ring = 0.5 if channel == 2 else 1.0
        return raster.blur(raster.splat(centres, values * area * ring, h, w), 0.6)
    sel = raster.visible(centres, 1.7 * cells.radius * scale * expand / d, w, h)
    cells, values, c_if, centres = cells.take(sel), values[sel], c_if[sel], centres[sel]
    n = len(cells)
    if n == 0:
        return np.zeros((h, w), np.float32)
    polys = transform.map_points(cells.polygons().reshape(-1, 2)).reshape(n, -1, 2)
    polys = c_if[:, None, :] + (polys - c_if[:, None, :]) * expand
    polys = raster.to_canvas(polys.reshape(-1, 2), ox, oy, d).reshape(n, -1, 2)
    lut = np.concatenate([[0.0], values]).astype(np.float32)
    if channel == 2:  # CD31: membrane ring plus a faint fill
        thick = max(1, int(round(0.9 / cfg.mpp_if / d)))
        img = lut[raster.outline_image(polys, h, w, thick)] + 0.15 * lut[raster.label_image(polys, h, w)]
    else:
        img = lut[raster.label_image(polys, h, w)]
    blobs, _ = textures(cfg.seed)
    tex = texture_window(blobs, int(round(ox / d)) + 37 * channel, int(round(oy / d)) + 11 * channel, w, h)
    img = img * (1.0 + TEXTURE_AMP[channel] / math.sqrt(d) * tex)
    return raster.blur(img, 0.8)


def render_if_channel(
    cfg: SceneConfig, transform: SlideTransform, x: float, y: float, w: int, h: int, d: float, channel: int,
    cells: CellBatch | None = None, fields: Fields | None = None, canvas: tuple[int, int] | None = None,
) -> np.ndarray:
    """Float32 (h, w) intensity of one IF channel for the IF-frame region at level-0 (x, y).

    Outside ``canvas`` (the IF slide's level-0 width, height) there is no tissue, as on the written slide.
    """
    m = MARGIN
    cw, ch = w + 2 * m, h + 2 * m
    ox, oy = x - m * d, y - m * d
    is_af = CHANNELS[channel] == "AF"
    # marker channels only need the tissue for a faint background: coarse edges are fine there
    f = fields if fields is not None else if_fields(cfg, transform, ox, oy, cw, ch, d, smooth_edges=not is_af)
    tissue = (f.tissue * (1.0 - 0.7 * f.lumen)).astype(np.float32)
    if is_af:
        sig = tissue * (0.12 + 0.18 * f.eosin.astype(np.float32))
    else:
        if cells is None:
            cells = cells_for_if_canvas(cfg, transform, ox, oy, cw, ch, d)
        sig = marker_signal(cfg, transform, cells, channel, ox, oy, cw, ch, d)
    _, grain = textures(cfg.seed)
    noise = texture_window(grain, int(round(ox / d)) + 211 * channel, int(round(oy / d)) + 97 * channel, cw, ch)
    if canvas is not None and (ox < 0 or oy < 0 or ox + cw * d > canvas[0] or oy + ch * d > canvas[1]):
        inside = _inside(ox, oy, cw, ch, d, canvas)
        sig = sig * inside
        tissue = tissue * inside
    out = sig + BACKGROUND[channel] * tissue + OFFSET + (cfg.if_noise_sd / math.sqrt(d)) * noise
    return np.ascontiguousarray(np.maximum(out, 0.0)[m : m + h, m : m + w], dtype=np.float32)


def _inside(ox: float, oy: float, w: int, h: int, d: float, canvas: tuple[int, int]) -> np.ndarray:
    """1 where a canvas pixel centre lies on the IF slide, else 0."""
    cx = ox + (np.arange(w) + 0.5) * d
    cy = oy + (np.arange(h) + 0.5) * d
    inx = ((cx >= 0) & (cx < canvas[0])).astype(np.float32)
    iny = ((cy >= 0) & (cy < canvas[1])).astype(np.float32)
    return iny[:, None] * inx[None, :]


def render_if(
    cfg: SceneConfig, transform: SlideTransform, x: float, y: float, w: int, h: int, downsample: float = 1.0,
    channels: tuple[int, ...] | None = None, dtype: np.dtype | type = np.uint16,
    canvas: tuple[int, int] | None = None,
) -> np.ndarray:
    """(C, h, w) IF channels of the IF-frame region whose top-left is IF level-0 (x, y)."""
    d = float(downsample)
    chans = tuple(range(len(CHANNELS))) if channels is None else tuple(channels)
    m = MARGIN
    ox, oy = x - m * d, y - m * d
    cw, ch = w + 2 * m, h + 2 * m
    cells = cells_for_if_canvas(cfg, transform, ox, oy, cw, ch, d)
    smooth = if_fields(cfg, transform, ox, oy, cw, ch, d, smooth_edges=True)
    planes = []
    for c in chans:
        f = if_fields(cfg, transform, ox, oy, cw, ch, d) if CHANNELS[c] == "AF" else smooth
        planes.append(render_if_channel(cfg, transform, x, y, w, h, d, c, cells=cells, fields=f, canvas=canvas))
    return to_dtype(np.stack(planes), dtype)
