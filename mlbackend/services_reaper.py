"""Stale-job reaping for the ML backend: reap dead jobs, then fail the training versions they leave behind."""

from __future__ import annotations

import logging

from annotation.models import Job
from annotation.services.reaper import jobs_reap
from mlbackend.models import ModelVersion
from mlbackend.services import model_version_fail

logger = logging.getLogger(__name__)


def orphan_versions_fail() -> list[int]:
    """Fail every version still `training` whose job already finished (killed run, reaped job)."""
    finished = [Job.Status.FAILED, Job.Status.CANCELLED, Job.Status.SUCCEEDED]
    orphans = ModelVersion.objects.filter(status=ModelVersion.Status.TRAINING, job__status__in=finished)
    failed = []
    for version in orphans.select_related("job"):
        model_version_fail(version_id=version.id, reason=f"training job {version.job_id} ended: {version.job.error[:500]}")
        failed.append(version.id)
    return failed


def stale_jobs_reap_all(*, stale_after_s: int | None = None) -> dict:
    """The periodic reaper: stale jobs failed, their training versions failed; a summary for the beat log."""
    reaped = jobs_reap(stale_after_s=stale_after_s)
    versions = orphan_versions_fail()
    return {"jobs": [str(j.id) for j in reaped], "model_versions": versions}
