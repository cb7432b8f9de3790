"""One DZI tile of a slide: stored JPEG passed through where the grids coincide, else read + resample.

A tile at DZI level L covers level-0 pixels ``rect * scale``; it is read from the nearest finer file
level (fewest pixels to decode) and area-resampled to the tile size. With a 4x pyramid (Aperio)
every other DZI level is such a 2x reduction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from annotation.imaging.deepzoom import DeepZoomGeometry, TileRect, coinciding_file_level
from annotation.imaging.info import BRIGHTFIELD
from annotation.imaging.reader_base import SlideReader, resize_area
from annotation.imaging.render import RenderSettings, composite

CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}
_REDUCED_DECODE = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
_MAX_REDUCED_TILES = 64
FORMATS = {"jpeg": "jpeg", "jpg": "jpeg", "png": "png"}


@dataclass(frozen=True)
class EncodedTile:
    """Encoded tile bytes and whether they were the stored tile, passed through untouched."""

    data: bytes
    content_type: str
    passthrough: bool = False


def encode_image(rgb: np.ndarray, fmt: str, quality: int = 75) -> bytes:
    """Encode (H, W, 3) RGB or (H, W, 4) RGBA uint8 as JPEG (quality) or PNG (fast compression)."""
    if fmt == "png":
        code = cv2.COLOR_RGBA2BGRA if rgb.shape[2] == 4 else cv2.COLOR_RGB2BGR
        ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, code), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    else:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb[..., :3], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"{fmt} encoding failed")
    return buf.tobytes()


def encode_bgr(bgr: np.ndarray, fmt: str, quality: int = 75) -> bytes:
    """Encode (H, W, 3) BGR uint8 (OpenCV's order, so no conversion) as JPEG or PNG."""
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1] if fmt == "png" else [cv2.IMWRITE_JPEG_QUALITY, quality]
    ok, buf = cv2.imencode(".png" if fmt == "png" else ".jpg", bgr, params)
    if not ok:
        raise RuntimeError(f"{fmt} encoding failed")
    return buf.tobytes()


def read_scaled(
    reader: SlideReader, rect: TileRect, scale: float, channels: tuple[int, ...] | None = None
) -> np.ndarray:
    """Pixels of the level-0 area ``rect * scale`` at ``rect``'s size, from the nearest finer level."""
    info = reader.info
    level = info.best_level_for_downsample(scale)
    ratio = scale / info.level_downsamples[level]
    fx0, fy0 = rect.x * ratio, rect.y * ratio
    fx1, fy1 = (rect.x + rect.w) * ratio, (rect.y + rect.h) * ratio
    x0, y0 = math.floor(fx0 + 1e-6), math.floor(fy0 + 1e-6)
    x1, y1 = math.ceil(fx1 - 1e-6), math.ceil(fy1 - 1e-6)
    region = reader.read_region(level, x0, y0, x1 - x0, y1 - y0, channels)
    if region.shape[:2] == (rect.h, rect.w):
        return region
    if channels is not None and len(channels) < region.shape[2]:  # resize only what will be shown
        wanted = list(channels)
        out = np.zeros((rect.h, rect.w, region.shape[2]), dtype=region.dtype)
        out[..., wanted] = resize_area(np.ascontiguousarray(region[..., wanted]), rect.w, rect.h)
        return out
    return resize_area(region, rect.w, rect.h)


def render_tile(
    reader: SlideReader,
    geometry: DeepZoomGeometry,
    level: int,
    col: int,
    row: int,
    fmt: str = "jpeg",
    settings: RenderSettings | None = None,
    quality: int = 75,
) -> EncodedTile:
    """Encoded DZI tile (level, col, row) of a brightfield or fluorescence slide; TileNotFound if outside."""
    rect = geometry.tile_rect(level, col, row)
    if fmt == "jpeg" and reader.info.kind == BRIGHTFIELD:
        stored = passthrough_tile(reader, geometry, level, col, row, rect)
        if stored is not None:
            return EncodedTile(stored, CONTENT_TYPES["jpeg"], passthrough=True)
    if reader.info.kind == BRIGHTFIELD:
        bgr = reduced_from_stored(reader, geometry.level_scale(level), rect)
        if bgr is not None:
            return EncodedTile(encode_bgr(bgr, fmt, quality), CONTENT_TYPES[fmt])
        pixels = read_scaled(reader, rect, geometry.level_scale(level))
    else:
        settings = settings or RenderSettings.defaults(reader.info)
        visible = tuple(c.index for c in settings.channels)
        pixels = composite(read_scaled(reader, rect, geometry.level_scale(level), visible), settings)
    return EncodedTile(encode_image(pixels, fmt, quality), CONTENT_TYPES[fmt])


def passthrough_tile(
    reader: SlideReader, geometry: DeepZoomGeometry, level: int, col: int, row: int, rect: TileRect
) -> bytes | None:
    """The stored JPEG for this DZI tile if grids coincide and the tile is whole (not an edge tile)."""
    if geometry.overlap != 0:
        return None
    file_level = coinciding_file_level(reader.info, geometry, level)
    if file_level is None:
        return None
    raw = reader.raw_level(file_level)
    if raw is None or raw.tile_w != geometry.tile_size or raw.tile_h != geometry.tile_size:
        return None
    # A stored edge tile is padded to the full tile size; DZI wants it cropped, so decode those.
    if rect.w != raw.tile_w or rect.h != raw.tile_h or rect.x + rect.w > raw.width or rect.y + rect.h > raw.height:
        return None
    return reader.raw_tile(file_level, col, row)


def reduced_from_stored(reader: SlideReader, scale: float, rect: TileRect) -> np.ndarray | None:
    """BGR pixels of a tile 2x/4x/8x coarser than a stored JPEG level, decoded at reduced scale.

    libjpeg-turbo can decode a JPEG at 1/2, 1/4 or 1/8 size in the DCT domain, which is several times
    cheaper than a full decode followed by a resize (the 4x-pyramid case: every other DZI level).
    Returns None (use the general path) unless the tile lies wholly inside such a level.
    """
    info = reader.info
    best: tuple[int, int] | None = None
    for k, ds in enumerate(info.level_downsamples):
        raw = reader.raw_level(k)
        factor = round(scale / ds)
        if raw is None or factor not in _REDUCED_DECODE or abs(scale / ds - factor) > 1e-3 * factor:
            continue
        if raw.tile_w % factor == 0 and raw.tile_h % factor == 0 and (best is None or factor < best[1]):
            best = (k, factor)
    if best is None:
        return None
    k, f = best
    raw = reader.raw_level(k)
    assert raw is not None
    x0, y0, x1, y1 = rect.x * f, rect.y * f, (rect.x + rect.w) * f, (rect.y + rect.h) * f
    if x0 < 0 or y0 < 0 or x1 > raw.width or y1 > raw.height:
        return None
    c0, c1, r0, r1 = x0 // raw.tile_w, (x1 - 1) // raw.tile_w, y0 // raw.tile_h, (y1 - 1) // raw.tile_h
    if (c1 - c0 + 1) * (r1 - r0 + 1) > _MAX_REDUCED_TILES:
        return None
    tw, th = raw.tile_w // f, raw.tile_h // f
    canvas = np.empty(((r1 - r0 + 1) * th, (c1 - c0 + 1) * tw, 3), dtype=np.uint8)
    for r in range(r0, r1 + 1):
        for c in range(c0, c1 + 1):
            data = reader.raw_tile(k, c, r)
            img = None if data is None else cv2.imdecode(np.frombuffer(data, np.uint8), _REDUCED_DECODE[f])
            if img is None or img.shape != (th, tw, 3):
                return None
            canvas[(r - r0) * th : (r - r0 + 1) * th, (c - c0) * tw : (c - c0 + 1) * tw] = img
    ox, oy = (x0 - c0 * raw.tile_w) // f, (y0 - r0 * raw.tile_h) // f
    return canvas[oy : oy + rect.h, ox : ox + rect.w]
