"""Job services: the one place job status changes, pushed to the project's websocket group after commit."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from annotation.errors import InvalidTransition
from annotation.events import project_group
from annotation.models import Job, Project
from annotation.services.jobs import job_create, job_fail, job_progress, job_start, job_succeed
from tests.support.channels import listen

pytestmark = pytest.mark.django_db



def _receive(channel: str) -> dict:
    return async_to_sync(get_channel_layer().receive)(channel)


def test_job_lifecycle_is_pushed_to_the_project_group_after_commit(django_capture_on_commit_callbacks):
    project = Project.objects.create(name="jobs")
    channel = listen(project_group(project.id))
    with django_capture_on_commit_callbacks(execute=True):
        job = job_create(kind=Job.Kind.INGEST, project_id=project.id, target={"slide_id": 1})
    assert _receive(channel)["event"] == "job.progress"
    with django_capture_on_commit_callbacks(execute=True):
        job_start(job_id=str(job.id))
        job_progress(job_id=str(job.id), progress=0.5, message="half way")
    assert _receive(channel)["data"]["status"] == "running"
    progress = _receive(channel)
    assert progress["data"]["progress"] == 0.5 and progress["data"]["message"] == "half way"
    with django_capture_on_commit_callbacks(execute=True):
        job_succeed(job_id=str(job.id), result={"slide_id": 1})
    finished = _receive(channel)
    assert finished["event"] == "job.finished" and finished["data"]["status"] == "succeeded"


def test_finished_jobs_neither_restart_nor_change_status():
    job = job_create(kind=Job.Kind.OTHER, project_id=None, target={})
    job_start(job_id=str(job.id))
    job_fail(job_id=str(job.id), error="broken file")
    assert job_start(job_id=str(job.id)) is None
    with pytest.raises(InvalidTransition):
        job_succeed(job_id=str(job.id))
    job_progress(job_id=str(job.id), progress=0.9)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error == "broken file" and job.progress != 0.9
