"""Channel names and pixel size from OME-XML or plain TIFF tags."""

from __future__ import annotations

import logging

import tifffile

logger = logging.getLogger(__name__)

_UNIT_TO_UM = {"µm": 1.0, "um": 1.0, "micron": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6}


def _ome_pixels(tif: tifffile.TiffFile) -> dict | None:
    if not tif.is_ome or not tif.ome_metadata:
        return None
    try:
        ome = tifffile.xml2dict(tif.ome_metadata).get("OME", {})
    except Exception:  # malformed OME-XML: fall back to defaults
        logger.warning("%s: unparsable OME-XML", tif.filehandle.path)
        return None
    image = ome.get("Image")
    image = image[0] if isinstance(image, list) else image
    return (image or {}).get("Pixels")


def channel_names(tif: tifffile.TiffFile, count: int) -> tuple[str, ...]:
    """Channel names from OME-XML (Channel@Name), else 'Channel 0', 'Channel 1', ..."""
    names = [f"Channel {i}" for i in range(count)]
    pixels = _ome_pixels(tif)
    channels = (pixels or {}).get("Channel") or []
    channels = channels if isinstance(channels, list) else [channels]
    for i, channel in enumerate(channels[:count]):
        if isinstance(channel, dict) and channel.get("Name"):
            names[i] = str(channel["Name"])
    return tuple(names)


def physical_size_um(tif: tifffile.TiffFile, page: tifffile.TiffPage) -> tuple[float | None, float | None]:
    """Microns per pixel (x, y) from OME PhysicalSize or the TIFF resolution tags; None if absent."""
    pixels = _ome_pixels(tif)
    if pixels and pixels.get("PhysicalSizeX"):
        try:
            fx = _UNIT_TO_UM.get(str(pixels.get("PhysicalSizeXUnit", "µm")), 1.0)
            fy = _UNIT_TO_UM.get(str(pixels.get("PhysicalSizeYUnit", "µm")), 1.0)
            x = float(pixels["PhysicalSizeX"]) * fx
            y = float(pixels.get("PhysicalSizeY", pixels["PhysicalSizeX"])) * fy
            return x, y
        except (TypeError, ValueError):
            pass
    unit = page.tags.get("ResolutionUnit")
    per_um = {2: 25400.0, 3: 10000.0}.get(int(unit.value) if unit else 2)
    xr, yr = page.tags.get("XResolution"), page.tags.get("YResolution")
    if per_um is None or xr is None or yr is None or not unit:
        return None, None
    try:
        x = per_um * xr.value[1] / xr.value[0]
        y = per_um * yr.value[1] / yr.value[0]
    except (ZeroDivisionError, TypeError, IndexError):
        return None, None
    return (x, y) if x > 0 and y > 0 else (None, None)
