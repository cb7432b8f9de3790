"""Slide services: the slide store, creating slides, ingesting them (a Job + task), importing from a folder."""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile
from django.conf import settings
from django.db import transaction
from PIL import Image

from annotation.errors import InvalidInput, NotFound
from annotation.imaging.errors import SlideReadError
from annotation.imaging.readers import open_slide
from annotation.imaging.render import RenderSettings, composite
from annotation.imaging.sniff import DICOM, INI, TIFF, fast_checksum, full_checksum, sniff_family
from annotation.models import Job, Project, Slide
from annotation.services.jobs import job_create, job_fail, job_progress, job_start, job_succeed

logger = logging.getLogger(__name__)

THUMBNAIL_PX = 1024
ASSOCIATED = ("label", "macro")
MULTI_FILE_SUFFIXES = (".mrxs", ".vms", ".vmu")


# -- the slide store ---------------------------------------------------------------------------------


def slide_root() -> Path:
    return Path(settings.SLIDE_ROOT).resolve()


def slide_abspath(slide: Slide) -> Path:
    """Absolute path of a slide file; NotFound if the stored path escapes the slide root."""
    root = slide_root()
    full = (root / slide.file_path).resolve()
    if os.path.commonpath([full, root]) != str(root):
        raise NotFound("Slide file not found.")
    return full


def derived_dir(checksum: str) -> Path:
    """Folder for a slide's thumbnail and associated images, content-addressed by its checksum."""
    digest = checksum.split(":", 1)[-1]
    if not re.fullmatch(r"[0-9a-f]{16,128}", digest):
        raise ValueError("bad checksum")
    return slide_root() / "derived" / digest[:2] / digest


def safe_filename(name: str) -> str:
    """A file name with no directory part and only harmless characters."""
    base = os.path.basename(name.replace("\\", "/")).strip() or "slide"
    base = re.sub(r"[^A-Za-z0-9._ -]+", "_", base).strip(" .") or "slide"
    return base[:200]


def store_new_folder(project_id: int) -> Path:
    folder = slide_root() / "store" / str(project_id) / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def _place_in_store(path: Path, project_id: int) -> tuple[str, str]:
    """(path relative to the slide root, file to copy in during ingest or ''): in place if under the root, else
    hard-linked into the store, else copied by the ingest job (never in a request)."""
    root = slide_root()
    real = path.resolve()
    if os.path.commonpath([real, root]) == str(root):
        return str(real.relative_to(root)), ""
    if real.suffix.lower() in MULTI_FILE_SUFFIXES:
        raise InvalidInput(f"{real.name}: multi-file slides must be placed inside the slide folder to be imported.")
    target = store_new_folder(project_id) / safe_filename(real.name)
    try:
        os.link(real, target)
    except OSError:
        return str(target.relative_to(root)), str(real)
    return str(target.relative_to(root)), ""


def _copy_in(source: str, slide: Slide) -> None:
    """Copy an imported file into the slide store (the ingest job does this, so requests stay fast)."""
    target = slide_abspath(slide)
    if target.is_file() and target.stat().st_size == os.path.getsize(source):
        return
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SlideReadError(f"cannot copy the file into the slide store: {exc.strerror or exc}") from exc


# -- creating and ingesting ----------------------------------------------------------------------------


@transaction.atomic
def slide_create(
    *, project: Project, file_path: str, name: str, created_by=None, size_bytes: int = 0, sha256: str = "",
    copy_from: str = "",
) -> tuple[Slide, Job]:
    """Create a pending slide for a file under SLIDE_ROOT and queue its ingest job (on commit)."""
    slide = Slide.objects.create(
        project=project, name=name[:255], file_path=file_path, size_bytes=size_bytes, created_by=created_by
    )
    target = {"slide_id": slide.id} | ({"sha256": sha256.lower()} if sha256 else {})
    if copy_from:
        target["copy_from"] = copy_from
    job = job_create(kind=Job.Kind.INGEST, project_id=project.id, target=target, created_by=created_by)
    _enqueue_ingest(str(job.id))
    return slide, job


def _enqueue_ingest(job_id: str) -> None:
    from annotation.tasks import ingest_slide

    transaction.on_commit(lambda: ingest_slide.apply_async(args=[job_id], queue="default"))


@dataclass(frozen=True)
class IngestFacts:
    """What ingest learnt about a slide file."""

    checksum: str
    size_bytes: int
    fields: dict
    derived: dict = field(default_factory=dict)


def slide_ingest(*, job_id: str) -> None:
    """Run one ingest job: read the slide, fill its fields, write thumbnails; slide ready or failed."""
    job = job_start(job_id=job_id)
    if job is None:
        return
    slide = Slide.objects.filter(id=job.target.get("slide_id")).first()
    if slide is None:
        job_fail(job_id=job_id, error="The slide was deleted before ingest.")
        return
    try:
        if job.target.get("copy_from"):
            job_progress(job_id=job_id, progress=0.01, message="copying the file into the slide store")
            _copy_in(job.target["copy_from"], slide)
        facts = read_slide_facts(slide, sha256=job.target.get("sha256", ""), job_id=job_id)
    except SlideReadError as exc:
        _ingest_failed(slide, job_id, exc.reason)
        return
    except Exception as exc:  # never let one bad file break the worker: record it on the slide
        logger.exception("ingest of slide %s failed", slide.id)
        _ingest_failed(slide, job_id, f"unexpected error while reading the slide ({type(exc).__name__}: {exc})")
        return
    _ingest_succeeded(slide, job_id, facts)


@transaction.atomic
def _ingest_failed(slide: Slide, job_id: str, reason: str) -> None:
    Slide.objects.filter(id=slide.id).update(status=Slide.Status.FAILED, status_reason=reason[:2000])
    job_fail(job_id=job_id, error=reason, result={"slide_id": slide.id})


@transaction.atomic
def _ingest_succeeded(slide: Slide, job_id: str, facts: IngestFacts) -> None:
    from annotation.services.registration import registration_autostart_for_slide

    for key, value in facts.fields.items():
        setattr(slide, key, value)
    slide.checksum = facts.checksum
    slide.size_bytes = facts.size_bytes
    slide.info = dict(facts.fields.get("info", {}), derived=facts.derived)
    slide.status = Slide.Status.READY
    slide.status_reason = ""
    slide.save()
    job_succeed(job_id=job_id, result={"slide_id": slide.id, "format": slide.format, "kind": slide.kind})
    registration_autostart_for_slide(slide=slide)


def read_slide_facts(slide: Slide, *, sha256: str = "", job_id: str | None = None) -> IngestFacts:
    """Open the slide file and gather its fields; SlideReadError with a readable reason if it cannot."""
    report = (lambda f, m: job_progress(job_id=job_id, progress=f, message=m)) if job_id else (lambda f, m: None)
    path = slide_abspath(slide)
    if not path.is_file():
        raise SlideReadError("the slide file is missing from the slide store")
    report(0.05, "checking the file")
    if sha256:
        actual = full_checksum(str(path)).split(":", 1)[1]
        if actual != sha256:
            raise SlideReadError("the uploaded file does not match the sha256 the browser sent (corrupted upload)")
    family = sniff_family(str(path))
    if family == TIFF:
        check_tiff_complete(str(path))
    checksum = fast_checksum(str(path))
    report(0.2, "reading the pyramid")
    with open_slide(path) as reader:
        info = reader.info
        _probe_pixels(reader)
        report(0.5, "writing thumbnails")
        derived = _write_derived(reader, checksum)
    return IngestFacts(checksum=checksum, size_bytes=path.stat().st_size, fields=_fields_of(info), derived=derived)


def check_tiff_complete(path: str) -> None:
    """SlideReadError if any TIFF strip/tile of the main series lies past the end of the file (truncation)."""
    size = os.path.getsize(path)
    try:
        with tifffile.TiffFile(path) as tif:
            if not len(tif.pages):
                raise SlideReadError("corrupt TIFF: the file has no readable image directory")
            for series in tif.series[:1]:
                for level in series.levels:
                    _check_pages(level.pages, size)
    except SlideReadError:
        raise
    except Exception as exc:  # tifffile raises many types for damaged structures
        raise SlideReadError(f"corrupt TIFF structure ({type(exc).__name__}: {exc})") from exc


def _check_pages(pages, size: int) -> None:
    for page in pages:
        if page is None or not getattr(page, "dataoffsets", None):
            continue
        ends = np.asarray(page.dataoffsets, np.int64) + np.asarray(page.databytecounts, np.int64)
        if ends.size and int(ends.max()) > size:
            missing = int(ends.max()) - size
            raise SlideReadError(f"truncated file: pixel data ends {missing} bytes past the end of the file")


def _probe_pixels(reader) -> None:
    """Decode a small region at the centre of level 0 and at the lowest level (catches corrupt tiles)."""
    info = reader.info
    w, h = info.level_dimensions[0]
    reader.read_region(0, max(0, w // 2 - 128), max(0, h // 2 - 128), min(256, w), min(256, h))
    lw, lh = info.level_dimensions[-1]
    reader.read_region(info.level_count - 1, 0, 0, min(lw, 512), min(lh, 512))


def _fields_of(info) -> dict:
    render = RenderSettings.defaults(info).encode() if info.default_display else ""
    display = {
        "render": render,
        "channels": [
            {"name": d.name, "color": d.color, "window_min": d.window_min, "window_max": d.window_max,
             "gamma": d.gamma, "visible": d.visible}
            for d in info.default_display
        ],
    }
    return {
        "format": info.format[:50],
        "kind": info.kind,
        "width": info.width,
        "height": info.height,
        "levels": [[w, h, float(ds)] for (w, h), ds in zip(info.level_dimensions, info.level_downsamples, strict=True)],
        "mpp_x": info.mpp_x,
        "mpp_y": info.mpp_y,
        "objective_power": info.objective_power,
        "channels": list(info.channel_names),
        "display": display,
        "info": {
            "dtype": info.dtype,
            "associated_images": list(info.associated_images),
            "tile_sizes": [list(t) if t else None for t in info.level_tile_sizes],
        },
    }


def _to_rgb(reader, pixels: np.ndarray) -> np.ndarray:
    if reader.info.kind == "fluorescence":
        return composite(pixels, RenderSettings.defaults(reader.info))
    return np.ascontiguousarray(pixels[..., :3]).astype(np.uint8)


def _write_derived(reader, checksum: str) -> dict:
    """Thumbnail and label/macro PNGs under the content-addressed derived folder; names -> relative paths."""
    folder = derived_dir(checksum)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    images = {"thumbnail": _to_rgb(reader, reader.thumbnail(THUMBNAIL_PX))}
    for name in ASSOCIATED:
        if name in reader.info.associated_images:
            try:
                images[name] = np.ascontiguousarray(reader.associated_image(name)[..., :3]).astype(np.uint8)
            except (KeyError, SlideReadError):
                logger.info("associated image %s unreadable", name)
    for name, rgb in images.items():
        target = folder / f"{name}.png"
        tmp = folder / f".{name}.{uuid.uuid4().hex}.tmp"
        Image.fromarray(rgb).save(tmp, format="PNG")
        os.replace(tmp, target)
        out[name] = str(target.relative_to(slide_root()))
    return out


def slide_image_path(*, slide: Slide, name: str = "thumbnail") -> Path:
    """Absolute path of a derived image (thumbnail, label, macro); NotFound if there is none."""
    rel = (slide.info or {}).get("derived", {}).get(name)
    if slide.status != Slide.Status.READY or not rel:
        raise NotFound(f"This slide has no {name} image.")
    path = (slide_root() / rel).resolve()
    if not path.is_file() or os.path.commonpath([path, slide_root()]) != str(slide_root()):
        raise NotFound(f"This slide has no {name} image.")
    return path


# -- importing from the server-side folder -----------------------------------------------------------------


def import_root() -> Path:
    return Path(settings.SLIDE_IMPORT_ROOT).resolve()


def import_path_resolve(relative: str) -> Path:
    """Resolve a path given relative to SLIDE_IMPORT_ROOT; InvalidInput if it escapes the folder."""
    root = import_root()
    if not relative or "\x00" in relative or os.path.isabs(relative) or relative.startswith("~"):
        raise InvalidInput(f"Path {relative!r} must be relative to the import folder.", code="path_outside_import_root")
    if ".." in Path(relative).parts:
        raise InvalidInput(f"Path {relative!r} may not contain '..'.", code="path_outside_import_root")
    full = (root / relative).resolve()
    if os.path.commonpath([full, root]) != str(root):
        raise InvalidInput(f"Path {relative!r} leads outside the import folder.", code="path_outside_import_root")
    if not full.exists():
        raise InvalidInput(f"Path {relative!r} does not exist in the import folder.", code="path_not_found")
    return full


def slide_candidates(folder: Path, limit: int = 5000) -> list[Path]:
    """Slide files below a folder (recognised by their bytes): TIFF family, DICOM (one per folder), MRXS/VMS."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        dicom_seen = False
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or not path.is_file():
                continue
            family = _family(path)
            if family == TIFF or (family == INI and path.suffix.lower() in MULTI_FILE_SUFFIXES):
                found.append(path)
            elif family == DICOM and not dicom_seen:
                found.append(path)
                dicom_seen = True
            if len(found) >= limit:
                return found
    return found


def _family(path: Path) -> str:
    try:
        return sniff_family(str(path))
    except OSError:
        return "unknown"


def importable_list(*, limit: int = 2000) -> list[dict]:
    """Slide files in SLIDE_IMPORT_ROOT: path relative to it, size, family."""
    root = import_root()
    if not root.is_dir():
        return []
    out = []
    for path in slide_candidates(root, limit):
        real = path.resolve()
        if os.path.commonpath([real, root]) != str(root):
            continue  # a symlink pointing outside the folder is never offered
        out.append({"path": str(path.relative_to(root)), "size_bytes": real.stat().st_size, "family": _family(real)})
    return out


def slides_import(
    *, project: Project, paths: list[Path], created_by=None, confine_to: Path | None = None
) -> list[tuple[Slide, Job | None]]:
    """Create slides (and ingest jobs) for files or folders on the server; a file already in the project is skipped."""
    files: list[Path] = []
    for path in paths:
        files.extend(slide_candidates(path) if path.is_dir() else [path])
    if confine_to is not None:
        root = confine_to.resolve()
        if any(os.path.commonpath([f.resolve(), root]) != str(root) for f in files):
            raise InvalidInput("A file leads outside the import folder.", code="path_outside_import_root")
    if not files:
        raise InvalidInput("No slide files found at the given paths.", code="no_slides_found")
    out: list[tuple[Slide, Job | None]] = []
    for path in files:
        rel, copy_from = _place_in_store(path, project.id)
        existing = Slide.objects.filter(project=project, file_path=rel).first()
        if existing is not None:
            out.append((existing, None))
            continue
        out.append(slide_create(project=project, file_path=rel, name=path.name, created_by=created_by,
                                size_bytes=path.stat().st_size, copy_from=copy_from))
    return out
