"""Stored JPEG tiles of a TIFF level, turned into standalone JPEG files without decoding them.

A JPEG-compressed TIFF tile holds the entropy-coded scan; its quantisation and Huffman tables usually
sit once in the page's JPEGTables tag. Merging ``tables`` + ``tile`` (minus the duplicate SOI/EOI)
gives a JPEG any browser decodes. Aperio writes RGB-colour-space JPEG (TIFF photometric RGB) with no
marker saying so; an Adobe APP14 segment with transform 0 tells decoders not to convert from YCbCr.
Which header is right is verified once per level against the reader's own decode.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import cv2
import numpy as np
import tifffile

logger = logging.getLogger(__name__)

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
ADOBE_RGB = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"
JPEG_COMPRESSION = 7


@dataclass(frozen=True, eq=False)
class RawJpegLevel:
    """Where the stored JPEG tiles of one pyramid level are, and the header that makes them standalone."""

    width: int
    height: int
    tile_w: int
    tile_h: int
    cols: int
    rows: int
    offsets: np.ndarray  # (rows*cols,) uint64, row-major
    bytecounts: np.ndarray
    tables: bytes  # JPEGTables minus SOI/EOI, or b""
    header: bytes = SOI  # SOI [+ APP14] + tables

    def with_header(self, adobe_rgb: bool) -> RawJpegLevel:
        """Same level with the standalone header built with or without the Adobe RGB marker."""
        header = SOI + (ADOBE_RGB if adobe_rgb else b"") + self.tables
        return RawJpegLevel(**{**self.__dict__, "header": header})


def find_raw_levels(tif: tifffile.TiffFile, dims: tuple[tuple[int, int], ...]) -> dict[int, RawJpegLevel]:
    """Map reader level index -> stored JPEG tile layout for levels whose TIFF page can be passed through."""
    pages: list[tifffile.TiffPage] = []
    for page in tif.pages:
        if not isinstance(page, tifffile.TiffPage):
            continue
        pages.append(page)
        for sub in page.pages if getattr(page, "subifds", None) else []:
            if isinstance(sub, tifffile.TiffPage):
                pages.append(sub)
    out: dict[int, RawJpegLevel] = {}
    for level, (w, h) in enumerate(dims):
        for page in pages:
            if page.imagewidth == w and page.imagelength == h and _passable(page):
                out[level] = _raw_level(page)
                break
    return out


def _passable(page: tifffile.TiffPage) -> bool:
    return (
        page.is_tiled
        and page.compression == JPEG_COMPRESSION
        and page.samplesperpixel == 3
        and page.planarconfig == 1
        and page.tiledepth == 1
        and page.bitspersample == 8
    )


def _raw_level(page: tifffile.TiffPage) -> RawJpegLevel:
    tables = page.jpegtables or b""
    if tables.startswith(SOI):
        tables = tables[2:]
    if tables.endswith(EOI):
        tables = tables[:-2]
    rows = -(-page.imagelength // page.tilelength)
    cols = -(-page.imagewidth // page.tilewidth)
    return RawJpegLevel(
        width=page.imagewidth,
        height=page.imagelength,
        tile_w=page.tilewidth,
        tile_h=page.tilelength,
        cols=cols,
        rows=rows,
        offsets=np.asarray(page.dataoffsets, dtype=np.uint64),
        bytecounts=np.asarray(page.databytecounts, dtype=np.uint64),
        tables=bytes(tables),
    )


def raw_tile_bytes(fd: int, level: RawJpegLevel, col: int, row: int) -> bytes | None:
    """The stored tile (col, row) as a standalone JPEG, or None if the tile is empty or not a JPEG."""
    index = row * level.cols + col
    count = int(level.bytecounts[index])
    if count < 4:
        return None
    data = os.pread(fd, count, int(level.offsets[index]))
    if len(data) != count or not data.startswith(SOI):
        return None
    return level.header + data[2:]


def decode_jpeg_rgb(data: bytes) -> np.ndarray | None:
    """Decode a JPEG as a browser would (libjpeg-turbo colour-space rules) into RGB uint8."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def verify_level(fd: int, level: RawJpegLevel, reference: np.ndarray, col: int, row: int) -> RawJpegLevel | None:
    """Pick the header (plain or Adobe RGB) whose decode matches ``reference`` pixels of tile (col, row)."""
    for adobe in (False, True):
        candidate = level.with_header(adobe)
        data = raw_tile_bytes(fd, candidate, col, row)
        pixels = decode_jpeg_rgb(data) if data else None
        if pixels is None or pixels.shape[:2] != (level.tile_h, level.tile_w):
            return None
        diff = np.abs(pixels.astype(np.int16) - reference.astype(np.int16)).mean()
        if diff < 4.0:
            return candidate
    logger.info("stored JPEG tiles do not decode like the reader's pixels; passthrough disabled")
    return None
