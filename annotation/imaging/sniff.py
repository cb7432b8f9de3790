"""Recognise a slide file by its first bytes (never by its extension), and checksum it."""

from __future__ import annotations

import hashlib
import os

TIFF = "tiff"
DICOM = "dicom"
INI = "ini"  # MIRAX .mrxs and Hamamatsu .vms/.vmu index files are INI text
UNKNOWN = "unknown"

_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

FAST_CHECKSUM_PREFIX = "f1:"
FULL_CHECKSUM_PREFIX = "sha256:"
_SAMPLE_BYTES = 1 << 20
_MIDDLE_SAMPLES = 16
_MIDDLE_SAMPLE_BYTES = 64 << 10


def sniff_family(path: str) -> str:
    """Container family of a file from its magic bytes: 'tiff', 'dicom', 'ini' or 'unknown'."""
    with open(path, "rb") as fh:
        head = fh.read(132)
    if head[:4] in _TIFF_MAGICS:
        return TIFF
    if len(head) >= 132 and head[128:132] == b"DICM":
        return DICOM
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"[") and b"]" in text[:64]:
        return INI
    return UNKNOWN


def fast_checksum(path: str) -> str:
    """Cheap content hash: sha256 of size, first and last MiB and 16 evenly spaced 64 KiB samples.

    Reads about 3 MiB whatever the file size, so ingest and the tile server can (re)compute it on
    every open. It catches truncation, re-export and any change to headers/IFDs (which TIFF writers
    put at the start or the end) but not a change confined to unsampled tile bytes; use
    ``full_checksum`` where that matters (a streamed sha256 of the whole file).
    """
    size = os.path.getsize(path)
    h = hashlib.sha256(b"laypath-f1")
    h.update(size.to_bytes(8, "little"))
    with open(path, "rb") as fh:
        h.update(fh.read(_SAMPLE_BYTES))
        for i in range(1, _MIDDLE_SAMPLES + 1):
            fh.seek(size * i // (_MIDDLE_SAMPLES + 1))
            h.update(fh.read(_MIDDLE_SAMPLE_BYTES))
        fh.seek(max(0, size - _SAMPLE_BYTES))
        h.update(fh.read(_SAMPLE_BYTES))
    return FAST_CHECKSUM_PREFIX + h.hexdigest()


def full_checksum(path: str, chunk_bytes: int = 8 << 20) -> str:
    """Streamed sha256 of the whole file (slow for gigapixel slides; for archival integrity checks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_bytes):
            h.update(chunk)
    return FULL_CHECKSUM_PREFIX + h.hexdigest()
