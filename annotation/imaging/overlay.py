"""Registered overlay tiles: the IF slide rendered in the H&E slide's frame, tile by tile.

The overlay has exactly the H&E DZI geometry. For a tile, every output pixel centre is placed in H&E
level-0 pixel coordinates (pixel k's centre is at k), mapped through the ``SlideTransform`` to IF
level-0 coordinates (the map is evaluated on a coarse mesh and bilinearly upsampled: it is smooth),
converted to the IF pyramid level nearest finer than the output scale, and only the bounding box of
the mapped tile is read and ``cv2.remap``-ed. No warped copy of the IF is ever written.

Fluorescence overlays read that box from composited RGB chunks (``chunkstore.RenderedChunkCache``):
neighbouring tiles, and the other tile-server processes, reuse each stored IF chunk's inflate and
composite instead of redoing them per tile.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from annotation.imaging.chunkstore import RenderedChunkCache, read_rendered_region
from annotation.imaging.deepzoom import DeepZoomGeometry
from annotation.imaging.reader_base import SlideReader, resize_area
from annotation.imaging.render import RenderSettings, composite
from annotation.imaging.tiles import CONTENT_TYPES, EncodedTile, encode_image
from annotation.imaging.transform import SlideTransform

DEFAULT_MESH_STEP = 8
_MARGIN = 2


def _level_maps(
    transform: SlideTransform, x0: float, y0: float, scale: float, w: int, h: int, kx: float, ky: float, mesh_step: int
) -> tuple[np.ndarray, np.ndarray]:
    """float32 remap maps in IF *level* pixels (``k`` = level px per level-0 px) for a (h, w) output grid.

    The transform is evaluated exactly on a mesh with a node every ``mesh_step`` output px (plus one
    node beyond each edge), converted to level px there, and upsampled with ``cv2.resize``: resizing by
    an integer factor puts output pixel j exactly between its two mesh nodes, so this is plain bilinear
    interpolation of a smooth map, and the full-size maps come out in the dtype remap wants.
    """
    s = mesh_step
    mx_n, my_n = -(-w // s) + 2, -(-h // s) + 2
    nx = (np.arange(mx_n) - 1 + 0.5) * s - 0.5
    ny = (np.arange(my_n) - 1 + 0.5) * s - 0.5
    gx, gy = np.meshgrid((x0 + nx + 0.5) * scale - 0.5, (y0 + ny + 0.5) * scale - 0.5)
    qx, qy = transform.map_grid(gx, gy)
    out = []
    for q, k in ((qx, kx), (qy, ky)):
        m = (q + 0.5) * k - 0.5
        origin = float(m.mean())  # resize residuals in float32 without losing sub-pixel precision
        up = cv2.resize((m - origin).astype(np.float32), (mx_n * s, my_n * s), interpolation=cv2.INTER_LINEAR)
        out.append(up[s : s + h, s : s + w] + np.float32(origin))
    return out[0], out[1]


def overlay_pixels(
    reader: SlideReader,
    transform: SlideTransform,
    x0: float,
    y0: float,
    scale: float,
    w: int,
    h: int,
    mesh_step: int = DEFAULT_MESH_STEP,
    channels: tuple[int, ...] | None = None,
    settings: RenderSettings | None = None,
    chunks: RenderedChunkCache | None = None,
    source: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """IF channels sampled at the mapped centres of a (h, w) output grid, and the mask of covered pixels.

    ``(x0, y0)`` is the grid's origin in output pixels and ``scale`` the H&E level-0 px per output px.
    With ``settings`` (fluorescence) the read region is rendered first and the RGB image is sampled:
    three 8-bit planes to interpolate instead of every channel at native depth; ``chunks`` (with
    ``source``, the IF's content identity) caches that rendering per stored chunk.
    """
    info = reader.info
    level = info.best_level_for_downsample(scale * transform.scale())
    lw, lh = info.level_dimensions[level]
    u, v = _level_maps(transform, x0, y0, scale, w, h, lw / info.width, lh / info.height, mesh_step)
    umin, umax, vmin, vmax = float(u.min()), float(u.max()), float(v.min()), float(v.max())
    rendered = settings is not None and info.kind != "brightfield"
    covered: np.ndarray | None = None  # None: every output pixel maps inside the level
    if umin < -0.5 or umax > lw - 0.5 or vmin < -0.5 or vmax > lh - 0.5:
        covered = (u >= -0.5) & (u <= lw - 0.5) & (v >= -0.5) & (v <= lh - 0.5)
        if not covered.any():
            shape, dtype = ((h, w, 3), np.uint8) if rendered else ((h, w, len(info.channel_names)), np.dtype(info.dtype))
            return np.zeros(shape, dtype=dtype), covered
        uc, vc = u[covered], v[covered]
        umin, umax, vmin, vmax = float(uc.min()), float(uc.max()), float(vc.min()), float(vc.max())
    bx0 = max(0, math.floor(umin) - _MARGIN)
    by0 = max(0, math.floor(vmin) - _MARGIN)
    bx1 = min(lw, math.ceil(umax) + _MARGIN + 1)
    by1 = min(lh, math.ceil(vmax) + _MARGIN + 1)
    factor = max(1, math.floor(scale * transform.scale() / info.level_downsamples[level] + 1e-6))
    if factor > 1:  # pyramid coarser than the output: box-filter first so remap does not alias
        bx1 = bx0 + -(-(bx1 - bx0) // factor) * factor
        by1 = by0 + -(-(by1 - by0) // factor) * factor
    if rendered and bx1 <= lw and by1 <= lh:
        region = read_rendered_region(reader, level, bx0, by0, bx1 - bx0, by1 - by0, settings, chunks, source)  # type: ignore[arg-type]
    else:
        region = reader.read_region(level, bx0, by0, bx1 - bx0, by1 - by0, channels)
        if rendered:
            region = composite(region, settings)  # type: ignore[arg-type]
    u -= np.float32(bx0)
    v -= np.float32(by0)
    if factor > 1:
        region = resize_area(region, (bx1 - bx0) // factor, (by1 - by0) // factor)
        u = (u + 0.5) / factor - 0.5
        v = (v + 0.5) / factor - 0.5
    out = cv2.remap(region, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out = out.reshape(h, w, -1)
    if covered is None:
        return out, np.ones((h, w), dtype=bool)
    out[~covered] = 0
    return out, covered


def render_overlay_tile(
    he_geometry: DeepZoomGeometry,
    if_reader: SlideReader,
    transform: SlideTransform,
    level: int,
    col: int,
    row: int,
    fmt: str = "jpeg",
    settings: RenderSettings | None = None,
    quality: int = 75,
    chunks: RenderedChunkCache | None = None,
    source: str = "",
) -> EncodedTile:
    """Encoded overlay tile on the H&E DZI grid; PNG tiles are transparent where the IF has no data.

    ``chunks``/``source``: see ``overlay_pixels`` (cache of composited IF chunks, keyed by ``source``).
    """
    rect = he_geometry.tile_rect(level, col, row)
    settings = settings or RenderSettings.defaults(if_reader.info)
    visible = tuple(c.index for c in settings.channels)
    scale = he_geometry.level_scale(level)
    rgb, covered = overlay_pixels(
        if_reader,
        transform,
        rect.x,
        rect.y,
        scale,
        rect.w,
        rect.h,
        channels=visible,
        settings=settings,
        chunks=chunks,
        source=source,
    )
    rgb = rgb[..., :3].astype(np.uint8, copy=False)
    if fmt == "png":
        rgb = np.dstack([rgb, covered.astype(np.uint8) * 255])
    return EncodedTile(encode_image(rgb, fmt, quality), CONTENT_TYPES[fmt])
