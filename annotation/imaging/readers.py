"""``open_slide``: recognise a slide by its bytes and open it with the right reader."""

from __future__ import annotations

import logging
import os
import struct

import openslide
import tifffile

from annotation.imaging.errors import SlideReadError
from annotation.imaging.reader_base import SlideReader
from annotation.imaging.reader_openslide import OpenSlideReader
from annotation.imaging.reader_tiff import DEFAULT_CHUNK_CACHE_BYTES, TiffReader
from annotation.imaging.sniff import DICOM, INI, TIFF, sniff_family

logger = logging.getLogger(__name__)

__all__ = ["SlideReader", "open_slide"]


def open_slide(path: str | os.PathLike[str], *, chunk_cache_bytes: int = DEFAULT_CHUNK_CACHE_BYTES) -> SlideReader:
    """Open a slide file, choosing OpenSlide or tifffile from its content; SlideReadError if it cannot.

    ``chunk_cache_bytes`` bounds the decoded-tile cache of tifffile-read slides (OpenSlide has its own).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise SlideReadError("file not found", path)
    if os.path.isdir(path):
        raise SlideReadError("is a directory, not a slide file", path)
    if os.path.getsize(path) == 0:
        raise SlideReadError("empty file", path)
    try:
        family = sniff_family(path)
        return _open(path, family, chunk_cache_bytes)
    except SlideReadError:
        raise
    except PermissionError as exc:
        raise SlideReadError("permission denied", path) from exc
    except (tifffile.TiffFileError, struct.error, EOFError) as exc:
        raise SlideReadError(f"corrupt TIFF structure: {exc}", path) from exc
    except openslide.OpenSlideError as exc:
        raise SlideReadError(f"OpenSlide cannot read the file: {exc}", path) from exc
    except Exception as exc:  # any library failure becomes a readable reason, never a raw traceback
        logger.info("cannot open %s", path, exc_info=True)
        raise SlideReadError(f"cannot read slide ({type(exc).__name__}: {exc})", path) from exc


def _open(path: str, family: str, chunk_cache_bytes: int) -> SlideReader:
    if family == TIFF:
        return _open_tiff(path, chunk_cache_bytes)
    if family in (DICOM, INI):
        vendor = openslide.OpenSlide.detect_format(path)
        if vendor is None:
            raise SlideReadError(f"unsupported {family} file: no slide reader recognises it", path)
        return OpenSlideReader(path, vendor, is_tiff=False)
    raise SlideReadError("unsupported file type: not a TIFF, DICOM or slide index file", path)


def _open_tiff(path: str, chunk_cache_bytes: int) -> SlideReader:
    with tifffile.TiffFile(path) as tif:
        is_ome = tif.is_ome
        first = tif.pages.first
        rgb8 = first.samplesperpixel in (3, 4) and first.dtype is not None and first.dtype.itemsize == 1
    if is_ome:
        return TiffReader(path, chunk_cache_bytes)
    vendor = openslide.OpenSlide.detect_format(path)
    if vendor is not None and (vendor != "generic-tiff" or rgb8):
        return OpenSlideReader(path, vendor, is_tiff=True)
    return TiffReader(path, chunk_cache_bytes)
