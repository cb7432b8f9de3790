"""Brightfield slides through OpenSlide (Aperio SVS, Hamamatsu NDPI/VMS, MIRAX, Leica SCN, DICOM, ...)."""

from __future__ import annotations

import logging

import numpy as np
import openslide
import tifffile

from annotation.imaging.errors import SlideReadError
from annotation.imaging.info import BRIGHTFIELD, SlideInfo
from annotation.imaging.reader_base import SlideReader, check_extents

logger = logging.getLogger(__name__)


def _float_prop(props: dict, key: str) -> float | None:
    try:
        value = float(props[key])
    except (KeyError, TypeError, ValueError):
        return None
    return value if value > 0 else None


def _properties(slide: openslide.OpenSlide) -> dict[str, str]:
    """Slide properties; keys whose value OpenSlide cannot return (e.g. an empty Aperio field) are skipped."""
    out = {}
    for key in list(slide.properties.keys()):
        try:
            out[key] = slide.properties[key]
        except KeyError:
            continue
    return out


def rgba_to_rgb_on_white(rgba: np.ndarray) -> np.ndarray:
    """Composite OpenSlide's (un-premultiplied) RGBA onto white; transparent = outside the scan."""
    rgb = np.array(rgba[..., :3])
    alpha = rgba[..., 3]
    if alpha.min() == 255:
        return rgb
    rgb[alpha == 0] = 255
    partial = np.nonzero((alpha > 0) & (alpha < 255))  # only at scan edges: few pixels
    if partial[0].size:
        a = alpha[partial][:, None].astype(np.uint16)
        rgb[partial] = ((rgb[partial].astype(np.uint16) * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)
    return rgb


class OpenSlideReader(SlideReader):
    """A brightfield slide opened with OpenSlide; stored JPEG tiles of TIFF-based formats pass through."""

    def __init__(self, path: str, vendor: str, is_tiff: bool) -> None:
        super().__init__(path)
        try:
            self._slide = openslide.OpenSlide(path)
        except openslide.OpenSlideError as exc:
            raise SlideReadError(f"OpenSlide cannot open the file: {exc}", path) from exc
        props = _properties(self._slide)
        dims = tuple(tuple(int(v) for v in d) for d in self._slide.level_dimensions)
        tiles = []
        for i in range(len(dims)):
            tw = props.get(f"openslide.level[{i}].tile-width")
            th = props.get(f"openslide.level[{i}].tile-height")
            tiles.append((int(tw), int(th)) if tw and th else None)
        self.info = SlideInfo(
            format=vendor,
            kind=BRIGHTFIELD,
            level_dimensions=dims,
            level_downsamples=tuple(float(d) for d in self._slide.level_downsamples),
            level_tile_sizes=tuple(tiles),
            mpp_x=_float_prop(props, openslide.PROPERTY_NAME_MPP_X),
            mpp_y=_float_prop(props, openslide.PROPERTY_NAME_MPP_Y),
            objective_power=_float_prop(props, openslide.PROPERTY_NAME_OBJECTIVE_POWER),
            channel_names=("R", "G", "B"),
            dtype="uint8",
            associated_images=tuple(sorted(self._slide.associated_images.keys())),
        )
        if is_tiff:
            self._tiff_checks(vendor)

    def _tiff_checks(self, vendor: str) -> None:
        with tifffile.TiffFile(self.path) as tif:
            check_extents(tif, self.path)
            if vendor != "hamamatsu":  # NDPI JPEG "tiles" are restart intervals, not TIFF tiles
                self._setup_passthrough(tif)

    def read_region(
        self, level: int, x: int, y: int, w: int, h: int, channels: tuple[int, ...] | None = None
    ) -> np.ndarray:
        """RGB uint8 pixels of ``level`` at level coordinates (x, y), outside the scan white."""
        ds = self.info.level_downsamples[level]
        try:
            image = self._slide.read_region((int(round(x * ds)), int(round(y * ds))), level, (w, h))
        except openslide.OpenSlideError as exc:
            raise SlideReadError(f"cannot decode slide data: {exc}", self.path) from exc
        return rgba_to_rgb_on_white(np.asarray(image))

    def associated_image(self, name: str) -> np.ndarray:
        """Label/macro/thumbnail image stored in the file, RGB uint8."""
        image = self._slide.associated_images[name]
        return rgba_to_rgb_on_white(np.asarray(image.convert("RGBA")))

    def close(self) -> None:
        """Close the OpenSlide handle and the passthrough file descriptor."""
        super().close()
        self._slide.close()
