"""Chunked, resumable browser uploads of slide files: a part file plus a small JSON state file per upload.

Chunks arrive in order (``Content-Range: bytes start-end/total``) and are written at their offset, so the
bytes received so far are the part file's size: a client resumes from ``GET`` after any interruption.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.utils import timezone

from annotation.errors import DomainError, InvalidInput, NotFound, PayloadTooLarge
from annotation.imaging.sniff import DICOM, INI, TIFF, sniff_family
from annotation.models import Job, Project, Slide
from annotation.services.slides import safe_filename, slide_create, slide_root, store_new_folder

logger = logging.getLogger(__name__)

CHUNK_MAX_BYTES = 8 * 1024 * 1024
_COPY_BYTES = 1 << 20
_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class UploadOffsetMismatch(DomainError):
    """The chunk does not start at the bytes received so far."""

    code = "upload_offset_mismatch"
    status = 409


class UnsupportedSlideFile(DomainError):
    """The file is not a slide this platform can read."""

    code = "unsupported_file"
    status = 415


@dataclass(frozen=True)
class UploadState:
    """One upload: who, where to, how big; ``slide_id`` once completed."""

    id: str
    project_id: int
    user_id: int
    filename: str
    size_bytes: int
    sha256: str
    created_at: str
    slide_id: int | None = None
    job_id: str | None = None


def _dir() -> Path:
    folder = slide_root() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _paths(upload_id: str) -> tuple[Path, Path]:
    if not re.fullmatch(r"[0-9a-f]{32}", upload_id):
        raise NotFound("Upload not found.")
    return _dir() / f"{upload_id}.json", _dir() / f"{upload_id}.part"


def _save(state: UploadState) -> None:
    meta, _ = _paths(state.id)
    tmp = meta.with_suffix(f".{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(asdict(state)))
    os.replace(tmp, meta)


def upload_create(*, project: Project, user, filename: str, size_bytes: int, sha256: str = "") -> UploadState:
    """Start an upload (413 beyond UPLOAD_MAX_BYTES); returns its state with the id to send chunks to."""
    if size_bytes <= 0:
        raise InvalidInput("The file is empty.")
    if size_bytes > settings.UPLOAD_MAX_BYTES:
        raise PayloadTooLarge(f"The file is larger than the upload limit of {settings.UPLOAD_MAX_BYTES} bytes.")
    if sha256 and not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise InvalidInput("sha256 must be 64 hexadecimal characters.")
    state = UploadState(
        id=uuid.uuid4().hex, project_id=project.id, user_id=user.id, filename=safe_filename(filename),
        size_bytes=int(size_bytes), sha256=sha256.lower(), created_at=timezone.now().isoformat(),
    )
    _save(state)
    _paths(state.id)[1].touch()
    return state


def upload_get(*, upload_id: str) -> UploadState:
    """The state of an upload; NotFound if there is none (the caller checks the project)."""
    meta, _ = _paths(upload_id)
    try:
        return UploadState(**json.loads(meta.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise NotFound("Upload not found.") from exc


def upload_received(state: UploadState) -> int:
    """Bytes received so far (contiguous from the start)."""
    _, part = _paths(state.id)
    return part.stat().st_size if part.exists() else (state.size_bytes if state.slide_id else 0)


def parse_content_range(header: str, size_bytes: int) -> tuple[int, int]:
    """(start, length) of a ``bytes start-end/total`` header; InvalidInput if malformed or inconsistent."""
    m = _RANGE_RE.match((header or "").strip())
    if not m:
        raise InvalidInput("Content-Range must be 'bytes start-end/total'.", code="bad_content_range")
    start, end, total = (int(v) for v in m.groups())
    if total != size_bytes or end < start or end >= total:
        raise InvalidInput(f"Content-Range {header[:80]!r} does not fit the upload of {size_bytes} bytes.",
                           code="bad_content_range")
    length = end - start + 1
    if length > CHUNK_MAX_BYTES:
        raise PayloadTooLarge(f"A chunk may carry at most {CHUNK_MAX_BYTES} bytes.")
    return start, length


def upload_write_chunk(*, state: UploadState, start: int, length: int, stream: BinaryIO) -> int:
    """Write one chunk at its offset (in order; a resent chunk overwrites); returns bytes received."""
    if state.slide_id:
        return state.size_bytes
    _, part = _paths(state.id)
    with open(part, "r+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        received = os.fstat(fh.fileno()).st_size
        if start > received:
            raise UploadOffsetMismatch(
                f"This chunk starts at {start} but only {received} bytes arrived; resume from there.",
                extra={"received": received},
            )
        fh.seek(start)
        left = length
        while left > 0:
            data = stream.read(min(_COPY_BYTES, left))
            if not data:
                break
            fh.write(data)
            left -= len(data)
        fh.flush()
        received = os.fstat(fh.fileno()).st_size
    if left:
        raise InvalidInput("The chunk body is shorter than its Content-Range.", code="short_chunk",
                           extra={"received": received})
    if start == 0:
        _refuse_non_slide(part, state)
    return received


def _refuse_non_slide(part: Path, state: UploadState) -> None:
    """Refuse (and discard) an upload whose first bytes are no slide format a browser upload can carry."""
    if part.stat().st_size < min(132, state.size_bytes):
        return
    family = sniff_family(str(part))
    if family in (TIFF, DICOM):
        return
    upload_discard(state=state)
    if family == INI:
        raise UnsupportedSlideFile(
            "Multi-file formats (MRXS, VMS) cannot be uploaded as one file; put the folder in the server's "
            "import folder and import it from there."
        )
    raise UnsupportedSlideFile(
        f"{state.filename!r} is not a slide file: expected a TIFF-based slide (SVS, NDPI, SCN, BIF, OME-TIFF, "
        "pyramidal TIFF) or DICOM."
    )


def upload_discard(*, state: UploadState) -> None:
    """Delete an upload's part and state files."""
    for path in _paths(state.id):
        path.unlink(missing_ok=True)


def upload_complete(*, state: UploadState, user) -> tuple[Slide, Job | None]:
    """Check the finished upload, move it into the slide store, create the slide and start ingest."""
    if state.slide_id:
        return Slide.objects.get(id=state.slide_id), None
    _, part = _paths(state.id)
    received = upload_received(state)
    if received != state.size_bytes:
        raise UploadOffsetMismatch(
            f"Only {received} of {state.size_bytes} bytes arrived.", extra={"received": received}
        )
    if received > settings.UPLOAD_MAX_BYTES:
        raise PayloadTooLarge(f"The file is larger than the upload limit of {settings.UPLOAD_MAX_BYTES} bytes.")
    _refuse_non_slide(part, state)
    target = store_new_folder(state.project_id) / state.filename
    os.replace(part, target)
    project = Project.objects.get(id=state.project_id)
    slide, job = slide_create(
        project=project, file_path=str(target.relative_to(slide_root())), name=state.filename, created_by=user,
        size_bytes=received, sha256=state.sha256,
    )
    _save(UploadState(**{**asdict(state), "slide_id": slide.id, "job_id": str(job.id)}))
    logger.info("upload %s completed as slide %s", state.id, slide.id)
    return slide, job


def upload_prune(*, older_than_s: int = 7 * 86400) -> int:
    """Delete abandoned uploads (state and part files untouched for ``older_than_s``); returns how many."""
    import time

    cutoff = time.time() - older_than_s
    removed = 0
    for meta in _dir().glob("*.json"):
        part = meta.with_suffix(".part")
        newest = max(meta.stat().st_mtime, part.stat().st_mtime if part.exists() else 0.0)
        if newest < cutoff:
            part.unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
            removed += 1
    return removed
