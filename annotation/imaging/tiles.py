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
from annotation.imaging.reader_base import SlideReader
from annotation.imaging.render import RenderSettings, composite

CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}
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
    out = cv2.resize(region, (rect.w, rect.h), interpolation=cv2.INTER_AREA)
    return out.reshape(rect.h, rect.w, -1) if out.ndim == 2 else out


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
