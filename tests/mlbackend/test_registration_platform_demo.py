"""The quick start's demo pair: generated, imported, ingested and queued for registration, once."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from annotation.models import Assignment, Job, LabelClass, Membership, Project, Slide, SlidePair, Task
from mlbackend.demo import demo_pair_ensure
from tests.annotation.slide_support import slide_store

pytestmark = pytest.mark.django_db
__all__ = ["slide_store"]


def test_demo_pair_is_generated_ingested_and_queued_once(slide_store):
    project = Project.objects.create(name="demo", redundancy_k=1)
    for name in ("podocyte", "endothelial", "mesangial"):
        LabelClass.objects.create(project=project, name=name)
    lay = [get_user_model().objects.create_user(username=f"demo-lay{i}") for i in range(2)]
    for user in lay:
        Membership.objects.create(project=project, user=user, role="annotator")
    lines: list[str] = []
    demo_pair_ensure(project_id=project.id, size_px=640, seed=3, log=lines.append)
    pair = SlidePair.objects.get(project=project)
    assert pair.anatomical.status == Slide.Status.READY and pair.anatomical.kind == "brightfield"
    assert pair.molecular.status == Slide.Status.READY and pair.molecular.kind == "fluorescence"
    assert pair.molecular.channels[0] == "DAPI"
    assert Job.objects.filter(kind=Job.Kind.REGISTRATION, target__pair_id=pair.id, status="queued").count() == 1
    assert (slide_store / pair.anatomical.file_path).is_file()
    # the demo is ready to label: tasks over the pair, each given to k of the project's annotators
    tasks = Task.objects.filter(pair=pair)
    assert tasks.exists() and all(t.classes.count() == 3 for t in tasks)
    assert Assignment.objects.filter(task__pair=pair).count() == tasks.count()  # k = 1
    assert all(Assignment.objects.filter(annotator=u).exists() for u in lay)  # load is balanced
    demo_pair_ensure(project_id=project.id, size_px=640, seed=3, log=lines.append)
    assert SlidePair.objects.filter(project=project).count() == 1 and Slide.objects.count() == 2
    assert "already has a slide pair" in lines[-1]
