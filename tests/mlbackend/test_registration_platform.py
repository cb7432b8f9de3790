"""Registration as a platform job: a real Celery worker ingests and registers a synthetic pair; crashes are safe."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from annotation.imaging.transform import SlideTransform
from annotation.models import Job, Registration, Slide, SlidePair
from annotation.services.pairs import pair_create
from annotation.services.registration import registration_manual, registration_start
from annotation.services.slides import slides_import
from mlbackend.engine.registration import RegistrationResult
from mlbackend.engine.synthetic.pair import write_pair
from mlbackend.pipelines import registration as pipeline
from tests.annotation.slide_support import make_project, slide_store
from tests.support.procs import celery_worker

__all__ = ["slide_store"]


def _wait_for(predicate, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise TimeoutError("condition not reached")


@pytest.mark.django_db(transaction=True)
def test_real_worker_ingests_then_registers_a_synthetic_pair_close_to_the_truth(slide_store):
    ctx = make_project()
    written = write_pair(slide_store / "import" / "pair", 1024, 768, seed=5)
    truth = SlideTransform.from_dict(json.loads(written.transform_path.read_text()))
    with celery_worker(queues="default"):
        created = slides_import(project=ctx["project"], paths=[written.he_path, written.if_path])
        he, mol = (slide for slide, _ in created)
        pair = pair_create(project=ctx["project"], name="synthetic", anatomical_id=he.id, molecular_id=mol.id)

        def finished() -> bool:
            jobs = Job.objects.filter(kind=Job.Kind.REGISTRATION, target__pair_id=pair.id)
            return jobs.exists() and all(j.status in ("succeeded", "failed") for j in jobs)

        _wait_for(finished)
    assert set(Slide.objects.filter(project=ctx["project"]).values_list("status", flat=True)) == {"ready"}
    job = Job.objects.get(kind=Job.Kind.REGISTRATION, target__pair_id=pair.id)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.progress == 1.0 and job.attempts == 1
    pair.refresh_from_db()
    reg = pair.current_registration
    assert reg is not None and reg.source == "automatic" and reg.status in ("ok", "low_confidence")
    assert reg.job_id == job.id and reg.qa.get("error_um")
    pts = np.array([[200, 200], [500, 400], [800, 600], [300, 650]], float)
    error_px = np.abs(SlideTransform.from_dict(reg.transform).map_points(pts) - truth.map_points(pts)).max()
    assert error_px < 3.0


class WorkerDied(BaseException):
    """Stands in for a worker killed between the engine and the database write (no handler runs)."""


@pytest.fixture
def ready_pair(db, slide_store):
    ctx = make_project()
    he = Slide.objects.create(project=ctx["project"], name="he", file_path="he.svs", status="ready",
                              kind="brightfield", checksum="f1:" + "a" * 64, width=1000, height=800)
    mol = Slide.objects.create(project=ctx["project"], name="if", file_path="if.tif", status="ready",
                               kind="fluorescence", checksum="f1:" + "b" * 64, width=1000, height=800)
    return SlidePair.objects.create(project=ctx["project"], name="p", anatomical=he, molecular=mol)


def test_worker_dying_between_engine_and_record_keeps_previous_version_and_rerun_is_idempotent(ready_pair, monkeypatch):
    previous = registration_manual(pair=ready_pair, affine=[[1, 0, 0], [0, 1, 0]])
    engine = SlideTransform(affine=((1.1, 0.0, 5.0), (0.0, 1.1, -3.0)))
    calls = []

    def fake_register(pair, job_id):
        calls.append(job_id)
        return RegistrationResult(engine, "ok", "", {"residual_um": 0.3}, [])

    monkeypatch.setattr(pipeline, "_register", fake_register)
    job = registration_start(pair=ready_pair)

    def die(**kwargs):
        raise WorkerDied()

    monkeypatch.setattr(pipeline, "registration_record", die)
    with pytest.raises(WorkerDied):
        pipeline.registration_run(job_id=str(job.id))
    ready_pair.refresh_from_db()
    assert ready_pair.current_registration_id == previous.id
    assert Registration.objects.filter(pair=ready_pair).count() == 1
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING  # as a killed worker leaves it; the broker redelivers the task
    monkeypatch.undo()
    monkeypatch.setattr(pipeline, "_register", fake_register)
    reg = pipeline.registration_run(job_id=str(job.id))  # redelivery
    assert reg is not None and reg.version == 2
    ready_pair.refresh_from_db()
    assert ready_pair.current_registration_id == reg.id
    assert pipeline.registration_run(job_id=str(job.id)) is None  # a finished job does nothing
    assert Registration.objects.filter(pair=ready_pair).count() == 2 and len(calls) == 2
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2 and job.result["version"] == 2


def test_failed_engine_result_is_recorded_but_previous_stays_current(ready_pair, monkeypatch):
    previous = registration_manual(pair=ready_pair, affine=[[1, 0, 0], [0, 1, 0]])
    monkeypatch.setattr(pipeline, "_register",
                        lambda pair, job_id: RegistrationResult(SlideTransform.identity(), "failed", "no tissue"))
    job = registration_start(pair=ready_pair)
    reg = pipeline.registration_run(job_id=str(job.id))
    ready_pair.refresh_from_db()
    assert reg.status == "failed" and ready_pair.current_registration_id == previous.id
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "no tissue" in job.error


def test_landmarks_go_through_the_engine_refinement(ready_pair):
    from annotation.services.registration import _refiner, registration_from_landmarks

    assert _refiner() is pipeline.refine_landmarks
    registration_manual(pair=ready_pair, affine=[[1, 0, 0], [0, 1, 0]])
    marks = [[[100, 100], [110, 95]], [[800, 120], [810, 115]], [[400, 700], [410, 695]]]
    reg = registration_from_landmarks(pair=ready_pair, landmarks=marks)
    got = SlideTransform.from_dict(reg.transform).map_points(np.array([m[0] for m in marks], float))
    assert reg.source == "landmarks" and reg.version == 2
    assert np.abs(got - np.array([m[1] for m in marks], float)).max() < 1.0
