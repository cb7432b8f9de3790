"""The stale-job reaper: running jobs without a recent heartbeat fail with a clear error, and so do their versions."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Job, Project
from annotation.services.jobs import job_create, job_progress, job_start
from mlbackend.models import ModelVersion
from mlbackend.services_reaper import stale_jobs_reap_all

pytestmark = pytest.mark.django_db


def _running(project, kind: str = "training", age_s: int = 0) -> Job:
    job = job_create(kind=kind, project_id=project.id, target={})
    job_start(job_id=str(job.id))
    Job.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(seconds=age_s))
    return Job.objects.get(id=job.id)


def test_progress_refreshes_the_heartbeat_so_a_live_job_is_not_reaped():
    project = Project.objects.create(name="reaper-live")
    job = _running(project, age_s=7200)
    job_progress(job_id=str(job.id), progress=0.5, message="epoch 3/10")
    assert stale_jobs_reap_all(stale_after_s=3600)["jobs"] == []
    assert Job.objects.get(id=job.id).status == "running"


def test_stale_training_job_and_its_version_fail_while_the_promoted_version_stays(settings):
    project = Project.objects.create(name="reaper-stale")
    promoted = ModelVersion.objects.create(project=project, number=1, status="promoted", metrics={"score": 0.4})
    job = _running(project, age_s=7200)
    version = ModelVersion.objects.create(project=project, number=2, status="training", job=job)
    fresh = _running(project, kind="inference", age_s=10)
    queued = job_create(kind="consensus", project_id=project.id, target={})
    settings.JOB_STALE_MINUTES = 60
    summary = stale_jobs_reap_all()
    assert summary == {"jobs": [str(job.id)], "model_versions": [version.id]}
    job.refresh_from_db()
    version.refresh_from_db()
    assert job.status == "failed" and "no heartbeat for more than 3600 s" in job.error and job.finished_at
    assert version.status == "failed" and str(job.id) in version.status_reason
    assert ModelVersion.objects.get(id=promoted.id).status == "promoted"
    assert Job.objects.get(id=fresh.id).status == "running"
    assert Job.objects.get(id=queued.id).status == "queued"  # waiting in the queue is not a dead worker
    assert stale_jobs_reap_all() == {"jobs": [], "model_versions": []}  # idempotent


@pytest.mark.django_db(transaction=True)
def test_heartbeat_thread_keeps_a_silent_running_job_alive_and_stops_with_the_block():
    from annotation.services.jobs import job_heartbeat

    project = Project.objects.create(name="reaper-heartbeat")
    job = _running(project, age_s=7200)  # no progress for two hours: stale by its last beat
    with job_heartbeat(str(job.id), every_s=0.05) as beat:
        deadline = timezone.now() + timedelta(seconds=20)
        while beat.beats < 2 and timezone.now() < deadline:
            time.sleep(0.02)
        assert beat.beats >= 2
        assert stale_jobs_reap_all(stale_after_s=3600)["jobs"] == []
    assert Job.objects.get(id=job.id).status == "running"
    beats_at_exit = beat.beats
    Job.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(seconds=7200))
    # the thread is gone: nothing refreshes the row any more, so the reaper takes it
    assert beat._thread is not None and not beat._thread.is_alive()
    assert beat.beats == beats_at_exit
    assert stale_jobs_reap_all(stale_after_s=3600)["jobs"]
    assert Job.objects.get(id=job.id).status == "failed"
