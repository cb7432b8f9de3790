"""Deep Zoom (DZI) geometry exactly as OpenSeadragon's DziTileSource computes it.

Level ``max_level = ceil(log2(max(width, height)))`` is full size; level L is the image scaled by
``2 ** (L - max_level)`` with dimensions rounded up, down to 1 x 1 at level 0. Tiles are
``tile_size`` px on a grid starting at the origin; each tile also carries ``overlap`` px of its
neighbours on every side that has one. Tile URLs: ``{name}_files/{level}/{col}_{row}.{format}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from annotation.imaging.errors import TileNotFound
from annotation.imaging.info import BRIGHTFIELD, SlideInfo

DZI_NAMESPACE = "http://schemas.microsoft.com/deepzoom/2008"
DEFAULT_TILE_SIZE = 256
_PASSTHROUGH_TILE_RANGE = (64, 2048)


@dataclass(frozen=True)
class TileRect:
    """A DZI tile's pixel rectangle in its level (overlap included)."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class DeepZoomGeometry:
    """Levels and tiles of a DZI pyramid over a width x height image."""

    width: int
    height: int
    tile_size: int = DEFAULT_TILE_SIZE
    overlap: int = 0
    format: str = "jpeg"

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1 or self.tile_size < 1 or self.overlap < 0:
            raise ValueError("DZI geometry needs positive size and tile size, non-negative overlap")

    @property
    def max_level(self) -> int:
        return (max(self.width, self.height) - 1).bit_length()

    @property
    def level_count(self) -> int:
        return self.max_level + 1

    def level_scale(self, level: int) -> int:
        """Level-0 pixels per pixel of ``level`` (a power of two)."""
        self._check_level(level)
        return 1 << (self.max_level - level)

    def level_dimensions(self, level: int) -> tuple[int, int]:
        """(width, height) of ``level``: full size divided by its scale, rounded up."""
        shift = self.max_level - self._check_level(level)
        return (self.width + (1 << shift) - 1) >> shift, (self.height + (1 << shift) - 1) >> shift

    def tile_counts(self, level: int) -> tuple[int, int]:
        """(columns, rows) of tiles at ``level``."""
        w, h = self.level_dimensions(level)
        return -(-w // self.tile_size), -(-h // self.tile_size)

    def tile_rect(self, level: int, col: int, row: int) -> TileRect:
        """Pixel rectangle of tile (col, row) in ``level`` including overlap; TileNotFound if outside."""
        cols, rows = self.tile_counts(level)
        if not (0 <= col < cols and 0 <= row < rows):
            raise TileNotFound(f"tile {col}_{row} outside level {level} ({cols} x {rows} tiles)")
        w, h = self.level_dimensions(level)
        x0 = col * self.tile_size - (self.overlap if col > 0 else 0)
        y0 = row * self.tile_size - (self.overlap if row > 0 else 0)
        x1 = min(w, (col + 1) * self.tile_size + (self.overlap if col < cols - 1 else 0))
        y1 = min(h, (row + 1) * self.tile_size + (self.overlap if row < rows - 1 else 0))
        return TileRect(x0, y0, x1 - x0, y1 - y0)

    def dzi_xml(self) -> str:
        """The .dzi descriptor OpenSeadragon fetches."""
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Image xmlns="{DZI_NAMESPACE}" Format={quoteattr(self.format)} '
            f'Overlap="{self.overlap}" TileSize="{self.tile_size}">'
            f'<Size Width="{self.width}" Height="{self.height}"/></Image>'
        )

    def _check_level(self, level: int) -> int:
        if not 0 <= level <= self.max_level:
            raise TileNotFound(f"level {level} outside 0..{self.max_level}")
        return level


def geometry_for(info: SlideInfo, fmt: str = "jpeg") -> DeepZoomGeometry:
    """The DZI geometry Laypath serves for a slide: a brightfield file's own tile grid (overlap 0) when square.

    Matching the file's grid lets DZI levels that coincide with a stored pyramid level pass stored
    JPEG tiles through untouched. Fluorescence is always rendered, so it gets 256 px tiles (lower
    latency per request; the decoded-chunk cache serves one stored 512 px chunk to four tiles).
    """
    tile = info.level_tile_sizes[0] if info.level_tile_sizes else None
    size = DEFAULT_TILE_SIZE
    if info.kind != BRIGHTFIELD:
        tile = None
    if tile and tile[0] == tile[1] and _PASSTHROUGH_TILE_RANGE[0] <= tile[0] <= _PASSTHROUGH_TILE_RANGE[1]:
        size = tile[0]
    return DeepZoomGeometry(width=info.width, height=info.height, tile_size=size, overlap=0, format=fmt)


def coinciding_file_level(info: SlideInfo, geometry: DeepZoomGeometry, level: int) -> int | None:
    """File pyramid level whose pixel grid is exactly DZI ``level``'s (same scale, size within 1 px)."""
    scale = geometry.level_scale(level)
    w, h = geometry.level_dimensions(level)
    for i, ds in enumerate(info.level_downsamples):
        fw, fh = info.level_dimensions[i]
        if abs(ds - scale) < 1e-3 * scale and abs(fw - w) <= 1 and abs(fh - h) <= 1:
            return i
    return None
