"""Registration pipeline: open both slides of a pair, run the engine, record the result as a new version."""

from __future__ import annotations

import logging
import time

from django.db import transaction

from annotation.imaging.errors import SlideReadError
from annotation.imaging.readers import open_slide
from annotation.imaging.transform import SlideTransform
from annotation.models import Job, Registration, SlidePair
from annotation.services.jobs import job_fail, job_progress, job_start, job_succeed
from annotation.services.registration import registration_record
from annotation.services.slides import slide_abspath
from mlbackend.engine.registration import RegistrationResult, refine_with_landmarks, register_pair

logger = logging.getLogger(__name__)


def _progress(job_id: str):
    """A progress callback that pushes at most every 5 % or 2 s."""
    last = {"f": -1.0, "t": 0.0}

    def report(fraction: float, message: str) -> None:
        now = time.monotonic()
        if fraction - last["f"] >= 0.05 or now - last["t"] >= 2.0:
            last.update(f=fraction, t=now)
            job_progress(job_id=job_id, progress=0.05 + 0.9 * fraction, message=message)

    return report


def registration_run(*, job_id: str) -> Registration | None:
    """Run one registration job end to end; a finished job does nothing; a recorded job is not recomputed."""
    job = job_start(job_id=job_id)
    if job is None:
        return None
    pair = SlidePair.objects.select_related("anatomical", "molecular").filter(id=job.target.get("pair_id")).first()
    if pair is None or pair.molecular is None:
        job_fail(job_id=job_id, error="The slide pair no longer exists or has no IF slide.")
        return None
    done = Registration.objects.filter(pair=pair, job=job).first()
    if done is not None:  # the worker died after recording: finish the job, do not compute again
        _finish(job, done)
        return done
    try:
        result = _register(pair, job_id)
    except SlideReadError as exc:
        result = RegistrationResult(SlideTransform.identity(), "failed", f"cannot read a slide: {exc.reason}")
    except Exception as exc:
        logger.exception("registration job %s crashed", job_id)
        job_fail(job_id=job_id, error=f"registration crashed ({type(exc).__name__}: {exc})")
        return None
    try:
        return record_result(job=job, pair=pair, result=result)
    except Exception as exc:  # nothing was written (one transaction): the previous version stays current
        logger.exception("recording registration of job %s failed", job_id)
        job_fail(job_id=job_id, error=f"could not store the registration ({type(exc).__name__}: {exc})")
        return None


def _register(pair: SlidePair, job_id: str) -> RegistrationResult:
    job_progress(job_id=job_id, progress=0.02, message="opening slides")
    with open_slide(slide_abspath(pair.anatomical)) as he, open_slide(slide_abspath(pair.molecular)) as mol:
        return register_pair(he, mol, progress=_progress(job_id))


@transaction.atomic
def record_result(*, job: Job, pair: SlidePair, result: RegistrationResult) -> Registration:
    """Store the engine's result as a new version and finish the job, in one transaction."""
    data = result.to_dict()
    metrics = dict(data["metrics"], warnings=data["warnings"])
    reg = registration_record(
        pair=pair, transform=data["transform"], status=result.status, reason=result.reason, metrics=metrics,
        qa=data["qa"] or {}, source=Registration.Source.AUTOMATIC, job=job,
    )
    _finish(job, reg)
    return reg


def _finish(job: Job, reg: Registration) -> None:
    result = {"pair_id": reg.pair_id, "version": reg.version, "status": reg.status}
    if reg.status == Registration.Status.FAILED:
        job_fail(job_id=str(job.id), error=f"registration failed: {reg.reason}", result=result)
    else:
        job_succeed(job_id=str(job.id), result=result)


def refine_landmarks(*, transform: dict, status: str, landmarks: list, metrics: dict) -> dict:
    """Landmark refinement through the engine (installed into annotation's registration services)."""
    base = RegistrationResult(SlideTransform.from_dict(transform), status, "", dict(metrics), [])
    pairs = [((p[0][0], p[0][1]), (p[1][0], p[1][1])) for p in landmarks]
    out = refine_with_landmarks(base, pairs)
    return {"transform": out.transform.to_dict(), "status": out.status, "reason": out.reason or "refined with landmarks",
            "metrics": dict(out.metrics, warnings=list(out.warnings))}
