"""Registration services: start the registration job, record a result as a new version, choose the current one.

Every new transform goes through ``registration_record``: one transaction creates the version and, unless it
failed, makes it current, so a worker dying mid-job never leaves a half-written current registration.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
from celery import current_app
from django.db import transaction
from django.db.models import Max
from django.utils.module_loading import import_string

from annotation.errors import InvalidInput, InvalidTransition, NotFound
from annotation.events import broadcast, project_group
from annotation.imaging.transform import SlideTransform
from annotation.models import Job, Registration, Slide, SlidePair
from annotation.services.jobs import ACTIVE, job_create
from annotation.services.slides import slide_root

logger = logging.getLogger(__name__)

REGISTER_TASK = "mlbackend.register_pair"
_landmark_refiner: str | Callable | None = None


# -- transform files (what overlay tile tokens point at) ---------------------------------------------------


def transform_file_write(transform: dict) -> tuple[str, str]:
    """Write a transform as JSON under SLIDE_ROOT/transforms/<sha>.json; (relative path, "sha256:<hex>")."""
    SlideTransform.from_dict(transform)  # refuse anything the tile server could not load
    data = orjson.dumps(transform, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    digest = hashlib.sha256(data).hexdigest()
    folder = slide_root() / "transforms"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.json"
    if not path.exists():
        tmp = folder / f".{digest}.{uuid.uuid4().hex}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return str(path.relative_to(slide_root())), f"sha256:{digest}"


def transform_file_for_pair(pair: SlidePair) -> tuple[str, str]:
    """The current registration's transform file, or the identity's when the pair has none yet."""
    reg = pair.current_registration
    if reg is not None and reg.transform_sha.startswith("sha256:"):
        rel = f"transforms/{reg.transform_sha.split(':', 1)[1]}.json"
        if (slide_root() / rel).is_file():
            return rel, reg.transform_sha
    transform = reg.transform if reg is not None else SlideTransform.identity().to_dict()
    return transform_file_write(transform)


# -- starting registration jobs ------------------------------------------------------------------------------


def pair_ready_to_register(pair: SlidePair) -> str:
    """'' when both slides are ready and of the right kinds, else the reason why not."""
    if pair.molecular_id is None:
        return "The pair has no molecular (IF) slide."
    he, mol = pair.anatomical, pair.molecular
    if he.status != Slide.Status.READY or mol.status != Slide.Status.READY:
        return "Both slides must be ingested (ready) first."
    if he.kind != Slide.Kind.BRIGHTFIELD:
        return "The anatomical slide must be brightfield (H&E)."
    if mol.kind != Slide.Kind.FLUORESCENCE:
        return "The molecular slide must be fluorescence (IF)."
    return ""


def registration_job_active(pair: SlidePair) -> Job | None:
    return Job.objects.filter(kind=Job.Kind.REGISTRATION, target__pair_id=pair.id, status__in=ACTIVE).first()


@transaction.atomic
def registration_start(*, pair: SlidePair, created_by=None, reuse_active: bool = True) -> Job:
    """Queue a registration job for the pair (task on commit); returns the already active job if any."""
    pair = SlidePair.objects.select_for_update(of=("self",)).select_related("anatomical", "molecular").get(id=pair.id)
    why = pair_ready_to_register(pair)
    if why:
        raise InvalidTransition(why, code="pair_not_ready")
    active = registration_job_active(pair)
    if active is not None and reuse_active:
        return active
    job = job_create(kind=Job.Kind.REGISTRATION, project_id=pair.project_id, target={"pair_id": pair.id},
                     created_by=created_by)
    job_id = str(job.id)
    transaction.on_commit(lambda: current_app.send_task(REGISTER_TASK, args=[job_id], queue="default"))
    return job


def registration_autostart_for_slide(*, slide: Slide) -> list[Job]:
    """Start registration of every pair of this slide that just became complete and was never registered."""
    jobs = []
    pairs = SlidePair.objects.filter(anatomical=slide) | SlidePair.objects.filter(molecular=slide)
    for pair in pairs.select_related("anatomical", "molecular"):
        if pair.current_registration_id is None and not pair.registrations.exists() and not pair_ready_to_register(pair):
            jobs.append(registration_start(pair=pair))
    return jobs


# -- recording results -------------------------------------------------------------------------------------------


@transaction.atomic
def registration_record(
    *, pair: SlidePair, transform: dict, status: str, reason: str = "", metrics: dict | None = None,
    qa: dict | None = None, source: str, job: Job | None = None, landmarks: list | None = None, created_by=None,
) -> Registration:
    """Store a transform as the pair's next version; it becomes current unless it failed. Idempotent per job."""
    if status not in Registration.Status.values or source not in Registration.Source.values:
        raise InvalidInput("Unknown registration status or source.")
    _, sha = transform_file_write(transform)
    pair = SlidePair.objects.select_for_update().get(id=pair.id)
    if job is not None:
        done = Registration.objects.filter(pair=pair, job=job).first()
        if done is not None:
            return done
    version = (pair.registrations.aggregate(m=Max("version"))["m"] or 0) + 1
    reg = Registration.objects.create(
        pair=pair, version=version, source=source, status=status, reason=reason[:5000], transform=transform,
        transform_sha=sha, metrics=_json_safe(metrics or {}), qa=_json_safe(qa or {}), landmarks=landmarks or [],
        job=job, created_by=created_by,
    )
    if status != Registration.Status.FAILED:
        pair.current_registration = reg
        pair.save(update_fields=["current_registration"])
    broadcast([project_group(pair.project_id)], "registration.updated", registration_payload(reg, current=pair))
    return reg


def _json_safe(value: dict) -> dict:
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=str))


def registration_payload(reg: Registration, *, current: SlidePair | None = None) -> dict:
    """JSON shape of one registration version (without the QA maps)."""
    return {
        "pair": reg.pair_id,
        "version": reg.version,
        "source": reg.source,
        "status": reg.status,
        "reason": reg.reason,
        "metrics": reg.metrics,
        "transform_sha": reg.transform_sha,
        "n_landmarks": len(reg.landmarks or []),
        "job": str(reg.job_id) if reg.job_id else None,
        "created_at": reg.created_at.isoformat() if reg.created_at else None,
        "current": current is not None and current.current_registration_id == reg.id,
    }


@transaction.atomic
def registration_activate(*, pair: SlidePair, version: int) -> Registration:
    """Make an earlier (or any non-failed) version the pair's current registration."""
    pair = SlidePair.objects.select_for_update().get(id=pair.id)
    reg = pair.registrations.filter(version=version).first()
    if reg is None:
        raise NotFound("Registration version not found.")
    if reg.status == Registration.Status.FAILED:
        raise InvalidTransition("A failed registration cannot become current.")
    pair.current_registration = reg
    pair.save(update_fields=["current_registration"])
    broadcast([project_group(pair.project_id)], "registration.updated", registration_payload(reg, current=pair))
    return reg


def registration_manual(*, pair: SlidePair, affine: list[list[float]], created_by=None) -> Registration:
    """Record a hand-entered affine (2x3 or 3x3, H&E level-0 px -> IF level-0 px) as a new current version."""
    m = np.asarray(affine, dtype=np.float64)
    if m.shape == (3, 3):
        if not np.allclose(m[2], [0, 0, 1]):
            raise InvalidInput("The last row of a 3x3 affine must be 0 0 1.")
        m = m[:2]
    if m.shape != (2, 3) or not np.all(np.isfinite(m)) or abs(np.linalg.det(m[:, :2])) < 1e-9:
        raise InvalidInput("The affine must be a finite, invertible 2x3 or 3x3 matrix.")
    transform = SlideTransform(affine=(tuple(m[0]), tuple(m[1]))).to_dict()
    return registration_record(pair=pair, transform=transform, status=Registration.Status.OK, reason="entered by hand",
                               source=Registration.Source.MANUAL, created_by=created_by)


# -- landmarks -------------------------------------------------------------------------------------------------------


def landmark_refiner_install(refiner: str | Callable) -> None:
    """Install the function that refines a transform from landmarks (mlbackend installs the engine's)."""
    global _landmark_refiner
    _landmark_refiner = refiner


def _refiner() -> Callable:
    if _landmark_refiner is None:
        return least_squares_refine
    return import_string(_landmark_refiner) if isinstance(_landmark_refiner, str) else _landmark_refiner


def least_squares_refine(*, transform: dict, status: str, landmarks: list, metrics: dict) -> dict:
    """Fallback: the least-squares affine through the landmarks (>= 3 pairs), ignoring the previous transform."""
    he = np.array([p[0] for p in landmarks], float)
    mol = np.array([p[1] for p in landmarks], float)
    sol, *_ = np.linalg.lstsq(np.column_stack([he, np.ones(len(he))]), mol, rcond=None)
    new = SlideTransform(affine=(tuple(sol[:, 0]), tuple(sol[:, 1])))
    err = float(np.median(np.linalg.norm(new.map_points(he) - mol, axis=1)))
    return {"transform": new.to_dict(), "status": "ok", "reason": "least-squares affine through landmarks",
            "metrics": {"n_landmarks": len(landmarks), "landmark_error_after_px": err}}


def registration_from_landmarks(*, pair: SlidePair, landmarks: list, created_by=None) -> Registration:
    """Refine the current transform with landmark pairs ((he_x, he_y), (if_x, if_y)) into a new version."""
    clean = _clean_landmarks(landmarks)
    current = pair.current_registration
    base = current.transform if current is not None else SlideTransform.identity().to_dict()
    if current is None and len(clean) < 3:
        raise InvalidInput("Without a registration, at least 3 landmark pairs are needed.")
    out = _refiner()(transform=base, status=current.status if current else "failed", landmarks=clean,
                     metrics=dict(current.metrics) if current else {})
    status = out["status"] if out["status"] != Registration.Status.FAILED else Registration.Status.LOW_CONFIDENCE
    return registration_record(
        pair=pair, transform=out["transform"], status=status, reason=out.get("reason", ""), metrics=out["metrics"],
        qa=current.qa if current else {}, source=Registration.Source.LANDMARKS, landmarks=clean, created_by=created_by,
    )


def _clean_landmarks(landmarks: list) -> list[list[list[float]]]:
    try:
        clean = [[[float(p[0][0]), float(p[0][1])], [float(p[1][0]), float(p[1][1])]] for p in landmarks]
    except (TypeError, IndexError, ValueError) as exc:
        raise InvalidInput("Landmarks must be [[[he_x, he_y], [if_x, if_y]], ...].") from exc
    if not clean or len(clean) > 500 or not np.all(np.isfinite(np.array(clean))):
        raise InvalidInput("Give between 1 and 500 finite landmark pairs.")
    return clean


def transform_path_abs(rel: str) -> Path:
    return slide_root() / rel
