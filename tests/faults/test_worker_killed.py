"""A real Celery worker SIGKILLed in the middle of training, inference, ingest and registration.

The gate (tests/faults/gated_worker.py) stops the worker at a known point (mid-epoch, inside the transaction
that would make a result current, ...) and the test kills it there: nothing half-written may become current,
and the job is either redelivered and re-run to completion or marked failed by the stale-job reaper.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings

from annotation.models import Annotation, Job, Registration, Slide, SlidePair, Task
from annotation.services.registration import registration_manual, registration_start
from annotation.services.slides import slide_create, slide_ingest
from mlbackend.models import ModelVersion
from mlbackend.pipelines.inference import preannotate_enqueue, preannotate_run
from mlbackend.pipelines.registration import registration_run
from mlbackend.pipelines.training import training_enqueue, training_run
from mlbackend.services import model_version_promote
from mlbackend.services_reaper import stale_jobs_reap_all
from tests.faults.support import VISIBILITY_S, sigkill, wait_for, worker
from tests.support.pairs import generated_pair_files, project_with_pair, task_with_truth_labels

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TRAIN = {"epochs": 2, "steps_per_epoch": 2, "batch_size": 2, "patch_px": 96}


def _status(model, pk) -> str:
    return model.objects.values_list("status", flat=True).get(pk=pk)


def _labelled_project():
    fx = project_with_pair(size_px=512)
    task_with_truth_labels(fx, (0, 0, 256, 256))
    task_with_truth_labels(fx, (256, 256, 512, 512))
    return fx


def _keeper(project) -> ModelVersion:
    """A promoted version no new run can beat (score above 1), so it must stay promoted."""
    keeper = ModelVersion.objects.create(project=project, number=1, status="ready", metrics={"score": 1.01})
    return model_version_promote(version_id=keeper.id, force=True)


@pytest.fixture(autouse=True)
def private_var(settings, tmp_path):
    """Checkpoints of this test (in-process and in the child workers) go to a folder of its own."""
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    return settings.VAR_DIR


def test_training_killed_mid_epoch_keeps_the_promoted_model_and_is_redelivered_to_completion(tmp_path):
    fx = _labelled_project()
    keeper = _keeper(fx.project)
    job = training_enqueue(project_id=fx.project.id, config=TRAIN)
    version = ModelVersion.objects.get(job_id=job.id)
    mark = tmp_path / "gate"
    with worker("mlbackend.pipelines.training:job_progress:after:epoch 1/", mark) as proc:
        wait_for(mark.exists, what="the worker to reach epoch 1")
        sigkill(proc)
        killed_at = time.monotonic()
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.attempts == 1 and "epoch 1/" in job.message
    assert _status(ModelVersion, version.id) == "training"  # not ready, not promoted
    assert not (Path(settings.VAR_DIR) / "models" / str(fx.project.id) / f"v{version.number}.pt").exists()
    assert _status(ModelVersion, keeper.id) == "promoted"

    time.sleep(max(0.0, VISIBILITY_S + 1 - (time.monotonic() - killed_at)))  # the message is now past visibility
    with worker():  # a fresh worker restores the unacked message and runs the job again
        wait_for(lambda: _status(Job, job.id) in ("succeeded", "failed"), what="the redelivered training")
    job.refresh_from_db()
    version.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.attempts == 2  # the same job ran twice: once killed, once to completion
    assert version.status == "ready" and version.checkpoint_sha and Path(version.checkpoint_path).exists()
    assert len(version.curves) == TRAIN["epochs"]  # the re-run started from scratch, not from the killed one
    assert list(ModelVersion.objects.filter(project=fx.project, status="promoted").values_list("id", flat=True)) == [keeper.id]


def test_inference_killed_after_one_task_reruns_without_duplicate_proposals(tmp_path):
    fx = _labelled_project()
    opened = [Task.objects.create(project=fx.project, pair=fx.pair, min_x=x0, min_y=384, max_x=x0 + 128, max_y=512,
                                  region={"type": "Polygon", "coordinates": [[[x0, 384], [x0 + 128, 384], [x0 + 128, 512],
                                                                               [x0, 512], [x0, 384]]]})
              for x0 in (0, 128)]
    trained = training_run(job_id=str(training_enqueue(project_id=fx.project.id, config={**TRAIN, "epochs": 1, "steps_per_epoch": 1}).id))
    assert trained is not None and trained.checkpoint_path
    Job.objects.filter(kind="inference").delete()  # the promotion's own inference run is not this test's subject
    job = preannotate_enqueue(project_id=fx.project.id, version_id=trained.id, task_ids=[t.id for t in opened])
    mark = tmp_path / "gate"
    with worker("mlbackend.pipelines.inference:job_progress:after:task ", mark) as proc:
        wait_for(mark.exists, what="the worker to finish its first task")
        sigkill(proc)
    assert _status(Job, job.id) == "running"
    partial = Annotation.objects.filter(source="model", is_deleted=False).count()

    written = preannotate_run(job_id=str(job.id))  # what the redelivered message does
    assert written is not None and _status(Job, job.id) == "succeeded"
    live = Annotation.objects.filter(source="model", status="proposed", is_deleted=False)
    assert live.count() == written >= partial  # the killed run's proposals were replaced, not duplicated
    assert preannotate_run(job_id=str(job.id)) is None  # a third delivery does nothing


def test_ingest_killed_inside_the_ready_transaction_leaves_the_slide_pending_until_the_reaper_fails_it(tmp_path):
    fx = project_with_pair(size_px=512)
    folder = generated_pair_files(512, 3)
    he = next(p.name for p in folder.iterdir() if p.suffix == ".svs")
    slide, job = slide_create(project=fx.project, file_path=f"{folder.relative_to(settings.SLIDE_ROOT)}/{he}", name="again")
    mark = tmp_path / "gate"
    # the gate sits inside _ingest_succeeded's transaction, after the slide row was saved as ready (uncommitted)
    with worker("annotation.services.registration:registration_autostart_for_slide:before:", mark, queues="default") as proc:
        wait_for(mark.exists, what="the worker to enter the ready transaction")
        sigkill(proc)
    slide.refresh_from_db()
    assert slide.status == Slide.Status.PENDING and not slide.width  # the uncommitted ready state was rolled back
    assert _status(Job, job.id) == "running"

    assert stale_jobs_reap_all(stale_after_s=3600)["jobs"] == []  # a fresh heartbeat is not reaped
    summary = stale_jobs_reap_all(stale_after_s=0)
    assert summary["jobs"] == [str(job.id)]
    job.refresh_from_db()
    slide.refresh_from_db()
    assert job.status == "failed" and "stopped responding" in job.error and job.result == {"reaped": True}
    assert slide.status == Slide.Status.FAILED and "stopped responding" in slide.status_reason
    slide_ingest(job_id=str(job.id))  # a late redelivery of the reaped job does nothing
    slide.refresh_from_db()
    assert slide.status == Slide.Status.FAILED


def test_registration_killed_while_recording_keeps_the_current_version_and_reruns_once(tmp_path):
    fx = project_with_pair(size_px=512)
    manual = registration_manual(pair=fx.pair, affine=[[1, 0, 0], [0, 1, 0]])
    job = registration_start(pair=fx.pair, reuse_active=False)
    mark = tmp_path / "gate"
    # the gate runs registration_record (rows written inside record_result's transaction), then blocks
    with worker("mlbackend.pipelines.registration:registration_record:after:", mark, queues="default") as proc:
        wait_for(mark.exists, what="the worker to write the registration")
        sigkill(proc)
    pair = SlidePair.objects.get(id=fx.pair.id)
    assert pair.current_registration_id == manual.id  # the half-written version never became current
    assert not Registration.objects.filter(job_id=job.id).exists()
    assert _status(Job, job.id) == "running"

    reg = registration_run(job_id=str(job.id))  # the redelivered message
    assert reg is not None and _status(Job, job.id) in ("succeeded", "failed")
    assert Registration.objects.filter(job_id=job.id).count() == 1
    assert registration_run(job_id=str(job.id)) is None
    assert Registration.objects.filter(pair=pair).count() == 2
