"""Streamed pyramidal TIFF writers: an Aperio-style JPEG SVS for H&E and a multi-channel OME-TIFF for IF.

Every level is written from a generator of tiles rendered straight from the vector scene, so memory
stays bounded by a few tiles whatever the slide size.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import tifffile

logger = logging.getLogger(__name__)

TileRenderer = Callable[[int, int, int, int, float], np.ndarray]  # (x0, y0, w, h, downsample) -> tile


def pyramid(width: int, height: int, step: int = 2, min_px: int = 256) -> list[tuple[int, int, int]]:
    """Levels as (downsample, width, height): step-times smaller until the long side is <= min_px."""
    levels = [(1, width, height)]
    d = 1
    while max(width, height) / d > min_px:
        d *= step
        levels.append((d, max(1, -(-width // d)), max(1, -(-height // d))))
    return levels


def iter_tiles(
    render: TileRenderer, w: int, h: int, d: int, tile: int, progress: Callable[[int], None] | None = None,
    band_px: int = 512,
) -> Iterator[np.ndarray]:
    """Row-major tiles of one level, rendered a band of tiles at a time (tifffile pads edge tiles)."""
    per_band = max(1, band_px // tile)
    for ty in range(0, h, tile):
        th = min(tile, h - ty)
        for bx in range(0, w, per_band * tile):
            bw = min(per_band * tile, w - bx)
            band = render(bx * d, ty * d, bw, th, float(d))
            for tx in range(0, bw, tile):
                yield band[:, tx : tx + tile]
            if progress is not None:
                progress(bw * th)


def aperio_description(width: int, height: int, tile: int, quality: int, mpp: float, mag: float, extra: str) -> str:
    """An Aperio-style ImageDescription: OpenSlide reads MPP and AppMag from it."""
    return (
        f"Aperio Image Library v12.0.15 \r\n{width}x{height} [0,0 {width}x{height}] ({tile}x{tile}) "
        f"JPEG/RGB Q={quality}|AppMag = {mag:g}|MPP = {mpp:.6g}|{extra}"
    )


def write_he_svs(
    path: Path, render: TileRenderer, width: int, height: int, mpp: float, objective_power: float,
    tile: int = 256, step: int = 2, quality: int = 88, extra: str = "",
    progress: Callable[[int], None] | None = None,
) -> list[tuple[int, int, int]]:
    """Write an SVS-like tiled JPEG pyramid (one TIFF page per level); returns the levels written."""
    levels = pyramid(width, height, step)
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for i, (d, w, h) in enumerate(levels):
            desc = aperio_description(width, height, tile, quality, mpp, objective_power, extra)
            if i > 0:
                desc = desc.replace(f"({tile}x{tile})", f"({tile}x{tile}) -> {w}x{h}", 1)
            logger.info("H&E level %d: %dx%d (downsample %d)", i, w, h, d)
            tif.write(
                iter_tiles(render, w, h, d, tile, progress), shape=(h, w, 3), dtype=np.uint8,
                tile=(tile, tile), photometric="rgb", compression="jpeg", compressionargs={"level": quality},
                description=desc, metadata=None, subfiletype=0 if i == 0 else 1, maxworkers=1,
                resolution=(1e4 / (mpp * d), 1e4 / (mpp * d)), resolutionunit="CENTIMETER",
            )
    return levels


_COMPRESSION_TAGS = {"zlib": 8, "zstd": 50000}  # deflate, zstd


def _tile_encoder(compression: str, tile: int) -> Callable[[np.ndarray], bytes]:
    """Encode one 2-D tile exactly as tifffile would (zero-pad, horizontal predictor, codec level 1)."""
    compress = tifffile.TIFF.COMPRESSORS[_COMPRESSION_TAGS[compression]]
    predict = tifffile.TIFF.PREDICTORS[2]

    def encode(t: np.ndarray) -> bytes:
        if t.shape != (tile, tile):
            t = np.pad(t, ((0, tile - t.shape[0]), (0, tile - t.shape[1])))
        return compress(predict(np.ascontiguousarray(t), axis=-1), level=1)

    return encode


def _level_chunks(
    render_all: Callable[[int, int, int, int, float], np.ndarray], n: int, w: int, h: int, d: int, tile: int,
    encode: Callable[[np.ndarray], bytes], spill_dir: Path, progress: Callable[[int], None] | None,
    band_px: int = 512,
) -> Iterator[tuple[bytes, int]]:
    """Encoded tiles of a (C, h, w) level in TIFF order (channel by channel), rendering each band once.

    Channel 0 goes straight to the file; channels 1.. are encoded at the same time and parked in
    temporary files (sequential, bounded memory), then replayed in order.
    """
    spills = [tempfile.TemporaryFile(dir=spill_dir) for _ in range(n - 1)]
    sizes: list[list[int]] = [[] for _ in range(n - 1)]
    per_band = max(1, band_px // tile)
    try:
        for ty in range(0, h, tile):
            th = min(tile, h - ty)
            for bx in range(0, w, per_band * tile):
                bw = min(per_band * tile, w - bx)
                planes = render_all(bx * d, ty * d, bw, th, float(d))
                for tx in range(0, bw, tile):
                    for c in range(n):
                        chunk = encode(planes[c, :, tx : tx + tile])
                        if c == 0:
                            yield chunk, len(chunk)
                        else:
                            spills[c - 1].write(chunk)
                            sizes[c - 1].append(len(chunk))
                if progress is not None:
                    progress(bw * th)
        for spill, lengths in zip(spills, sizes):
            spill.seek(0)
            for size in lengths:
                yield spill.read(size), size
    finally:
        for spill in spills:
            spill.close()


def write_if_ome(
    path: Path, render_all: Callable[[int, int, int, int, float], np.ndarray], width: int, height: int,
    mpp: float, channel_names: tuple[str, ...], dtype: np.dtype | type = np.uint16, tile: int = 512,
    step: int = 2, progress: Callable[[int], None] | None = None, compression: str = "zlib",
) -> list[tuple[int, int, int]]:
    """Write a tiled multi-channel OME-TIFF with a SubIFD pyramid; returns the levels written.

    ``render_all(x0, y0, w, h, downsample)`` returns all channels (C, h, w) of a region in ``dtype``.
    ``compression`` is "zlib" (deflate: every reader) or "zstd" (about 10x faster to write, fewer readers).
    """
    levels = pyramid(width, height, step)
    n = len(channel_names)
    dt = np.dtype(dtype)
    meta = {
        "axes": "CYX",
        "Channel": {"Name": list(channel_names)},
        "PhysicalSizeX": mpp,
        "PhysicalSizeXUnit": "µm",
        "PhysicalSizeY": mpp,
        "PhysicalSizeYUnit": "µm",
    }
    opts = {"tile": (tile, tile), "photometric": "minisblack", "compression": compression,
            "compressionargs": {"level": 1}, "predictor": True, "maxworkers": 1}
    encode = _tile_encoder(compression, tile)
    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tif:
        for i, (d, w, h) in enumerate(levels):
            logger.info("IF level %d: %dx%d x %d channels (downsample %d)", i, w, h, n, d)
            extra = {"subifds": len(levels) - 1, "metadata": meta} if i == 0 else {"subfiletype": 1}
            tif.write(
                _level_chunks(render_all, n, w, h, d, tile, encode, Path(path).parent, progress), shape=(n, h, w),
                dtype=dt, resolution=(1e4 / (mpp * d), 1e4 / (mpp * d)), resolutionunit="CENTIMETER", **opts, **extra,
            )
    return levels
