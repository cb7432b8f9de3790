"""The review queue follows label and model changes and is pushed over the project's websocket group."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from annotation.events import project_group
from annotation.models import Job, Membership, ReviewItem
from annotation.services.review import review_resolve
from mlbackend.pipelines.consensus import consensus_run
from mlbackend.services import consensus_check_run
from tests.mlbackend.test_consensus_platform import _point, labelled, slide_root  # noqa: F401 (fixtures)
from tests.support.channels import listen

pytestmark = pytest.mark.django_db



def _next_review_event(channel: str) -> dict:
    """The next review.changed message on the channel (job.progress and others are skipped)."""

    async def wait() -> dict:
        layer = get_channel_layer()
        while True:
            message = await asyncio.wait_for(layer.receive(channel), timeout=10)
            if message["event"] == "review.changed":
                return message["data"]

    return async_to_sync(wait)()


def _check_and_run(project_id: int, capture) -> bool:
    """Run the periodic check; if it queued this project, run the consensus job in-process."""
    with capture(execute=False):  # the Celery hand-off is not needed here
        queued = project_id in consensus_check_run()["queued"]
    if queued:
        job = Job.objects.filter(project_id=project_id, kind=Job.Kind.CONSENSUS, status=Job.Status.QUEUED).get()
        with capture(execute=True):
            consensus_run(job_id=str(job.id))
    return queued


def test_label_and_model_changes_rebuild_the_queue_and_push_it(labelled, django_capture_on_commit_callbacks):  # noqa: F811
    fx, tasks, (good1, _, _), _ = labelled
    channel = listen(project_group(fx.project.id))
    assert _check_and_run(fx.project.id, django_capture_on_commit_callbacks)
    first = _next_review_event(channel)
    assert first["project"] == fx.project.id and first["open"] > 0
    assert first["open"] == ReviewItem.objects.filter(project=fx.project, status="open").count()
    assert not _check_and_run(fx.project.id, django_capture_on_commit_callbacks)  # nothing changed

    # A new human label (a cell only good1 saw) triggers a rebuild and a push.
    _point(fx, tasks[0], good1, 40.0, 40.0, "podocyte")
    assert _check_and_run(fx.project.id, django_capture_on_commit_callbacks)
    assert _next_review_event(channel)["project"] == fx.project.id

    # New model predictions do too (the queue's P(error) reads the model's output).
    _point(fx, tasks[1], None, 50.0, 600.0, "mesangial", source="model")
    assert _check_and_run(fx.project.id, django_capture_on_commit_callbacks)
    assert _next_review_event(channel)["open"] == ReviewItem.objects.filter(project=fx.project, status="open").count()


def test_resolving_an_item_is_pushed(labelled, user_factory, django_capture_on_commit_callbacks):  # noqa: F811
    fx, _, _, _ = labelled
    with django_capture_on_commit_callbacks(execute=False):
        from mlbackend.pipelines.consensus import consensus_rebuild

        consensus_rebuild(project_id=fx.project.id)
    reviewer = user_factory()
    Membership.objects.create(project=fx.project, user=reviewer, role="reviewer")
    channel = listen(project_group(fx.project.id))
    item = ReviewItem.objects.filter(project=fx.project, status="open").order_by("-score").first()
    with django_capture_on_commit_callbacks(execute=True):
        review_resolve(item=item, actor=reviewer, action="dismiss")
    assert _next_review_event(channel) == {"project": fx.project.id, "resolved": item.id}


def test_a_rebuild_keeps_unchanged_consensus_rows_and_replaces_changed_ones(labelled, django_capture_on_commit_callbacks):  # noqa: F811
    from annotation.models import Annotation
    from mlbackend.pipelines.consensus import consensus_rebuild

    fx, tasks, (good1, good2, poor), _ = labelled
    with django_capture_on_commit_callbacks(execute=False):
        consensus_rebuild(project_id=fx.project.id)
        first = set(Annotation.objects.filter(project=fx.project, source="consensus").values_list("id", flat=True))
        consensus_rebuild(project_id=fx.project.id)
        again = set(Annotation.objects.filter(project=fx.project, source="consensus").values_list("id", flat=True))
        assert first and again == first  # nothing changed: no row rewritten
        for user in (good1, good2, poor):  # a new cell everyone agrees on
            _point(fx, tasks[0], user, 990.0, 20.0, "podocyte")
        consensus_rebuild(project_id=fx.project.id)
    now = Annotation.objects.filter(project=fx.project, source="consensus")
    assert now.filter(cx__gt=980, cy__lt=30, label_class__name="podocyte").count() == 1
    ids = set(now.values_list("id", flat=True))
    kept = len(ids & first)
    assert 0 < kept < len(ids)
