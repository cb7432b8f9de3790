"""What a slide is: the frozen ``SlideInfo`` every reader reports, and default fluorescence display."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

BRIGHTFIELD = "brightfield"
FLUORESCENCE = "fluorescence"

# Colour by (lower-cased) channel-name fragment; first match wins. Unknown names cycle through PALETTE.
_NAME_COLOURS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("dapi", "hoechst", "nuclei", "405"), "0000ff"),
    (("fitc", "gfp", "488", "af488", "alexa 488", "egfp", "green"), "00ff00"),
    (("cy3", "tritc", "555", "568", "rfp", "mcherry", "pe"), "ffff00"),
    (("cy5", "647", "af647", "far red", "far-red"), "ff0000"),
    (("cy7", "750", "790"), "ff00ff"),
    (("autofluorescence", "af"), "ffffff"),
)
PALETTE: tuple[str, ...] = ("0000ff", "00ff00", "ff0000", "ff00ff", "00ffff", "ffff00", "ffffff")


@dataclass(frozen=True)
class ChannelDisplay:
    """Default display of one fluorescence channel: colour (rrggbb), window in native units, gamma."""

    name: str
    color: str
    window_min: float
    window_max: float
    gamma: float = 1.0
    visible: bool = True


@dataclass(frozen=True)
class SlideInfo:
    """Geometry and metadata of an opened slide; level 0 is the full resolution."""

    format: str  # e.g. "aperio", "generic-tiff", "ome-tiff", "tiff", "hamamatsu", "dicom"
    kind: str  # BRIGHTFIELD | FLUORESCENCE
    level_dimensions: tuple[tuple[int, int], ...]  # (width, height) per level
    level_downsamples: tuple[float, ...]
    level_tile_sizes: tuple[tuple[int, int] | None, ...]  # (tile_w, tile_h) of the file per level
    mpp_x: float | None
    mpp_y: float | None
    objective_power: float | None
    channel_names: tuple[str, ...]
    dtype: str  # numpy dtype name of read_region's output
    associated_images: tuple[str, ...] = ()
    default_display: tuple[ChannelDisplay, ...] = ()  # fluorescence only

    @property
    def width(self) -> int:
        return self.level_dimensions[0][0]

    @property
    def height(self) -> int:
        return self.level_dimensions[0][1]

    @property
    def level_count(self) -> int:
        return len(self.level_dimensions)

    def best_level_for_downsample(self, downsample: float) -> int:
        """Index of the coarsest level whose downsample is <= ``downsample`` (the nearest finer level)."""
        best = 0
        for i, ds in enumerate(self.level_downsamples):
            if ds <= downsample * (1 + 1e-6) and ds >= self.level_downsamples[best]:
                best = i
        return best


def colour_for_channel(name: str, index: int) -> str:
    """Default display colour (rrggbb) of a channel, from its name (DAPI blue, FITC green, ...)."""
    low = name.lower()
    tokens = set(re.split(r"[^a-z0-9]+", low))
    for fragments, colour in _NAME_COLOURS:
        for frag in fragments:
            if frag in tokens or (len(frag) > 3 and frag in low):
                return colour
    return PALETTE[index % len(PALETTE)]


def _is_autofluorescence(name: str) -> bool:
    low = name.lower()
    return "autofluorescence" in low or "af" in set(re.split(r"[^a-z0-9]+", low))


def default_display(names: tuple[str, ...], sample: np.ndarray) -> tuple[ChannelDisplay, ...]:
    """Per-channel colour by name and a robust window (0.5th-99.9th percentile) from a low-res sample.

    Autofluorescence channels ("AF", "Autofluorescence") start hidden: they wash out the markers.
    """
    out = []
    for i, name in enumerate(names):
        values = sample[..., i].ravel()
        lo, hi = np.percentile(values, [0.5, 99.9]) if values.size else (0.0, 1.0)
        lo, hi = float(lo), float(hi)
        if np.issubdtype(sample.dtype, np.integer):
            lo, hi = float(np.floor(lo)), float(np.ceil(hi))
        if hi <= lo:
            hi = lo + 1.0
        visible = not _is_autofluorescence(name)
        out.append(ChannelDisplay(name, colour_for_channel(name, i), lo, hi, visible=visible))
    return tuple(out)
