from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.errors import InvalidInput, InvalidTransition
from annotation.models import Assignment, Membership, Role, Task
from annotation.selectors.tasks import assignment_next_for_annotator, task_list_for_user
from annotation.services import tasks as svc
from tests.annotation.conftest import make_user

pytestmark = pytest.mark.django_db


def test_grid_covers_the_whole_slide_when_no_tissue_mask(world):
    # 10000 x 8000 px at 0.5 um/px; 1000 um fields = 2000 px -> 5 x 4 fields
    tasks = svc.task_generate_grid(actor=world.manager, pair=world.pair, spec=svc.GridSpec(field_um=1000),
                                   settings=svc.TaskSettings(class_ids=(world.classes[0].id,), label_mode="exhaustive"))
    assert len(tasks) == 20
    assert max(t.max_x for t in tasks) == 10000 and max(t.max_y for t in tasks) == 8000
    assert all(t.max_x - t.min_x == 2000 for t in tasks)
    assert set(Task.objects.filter(id=tasks[0].id).values_list("classes", flat=True)) == {world.classes[0].id}
    assert {t.label_mode for t in tasks} == {"exhaustive"}


def test_grid_keeps_only_fields_over_tissue_and_honours_overlap(world):
    # mask cells of 2000 px: tissue only in the top-left cell
    world.pair.tissue_mask = {"step_px": 2000, "rows": ["10000", "00000", "00000", "00000"]}
    world.pair.save()
    tasks = svc.task_generate_grid(actor=world.manager, pair=world.pair, spec=svc.GridSpec(field_px=2000),
                                   settings=svc.TaskSettings())
    assert [(t.min_x, t.min_y) for t in tasks] == [(0, 0)]
    overlapping = svc.task_generate_grid(actor=world.manager, pair=world.pair, spec=svc.GridSpec(field_px=2000, overlap=0.5),
                                         settings=svc.TaskSettings())
    assert sorted((t.min_x, t.min_y) for t in overlapping) == [(0, 0), (0, 1000), (1000, 0), (1000, 1000)]


def test_grid_needs_a_known_pixel_size_or_explicit_pixels(world):
    world.pair.anatomical.mpp_x = None
    world.pair.anatomical.save()
    with pytest.raises(InvalidInput):
        svc.task_generate_grid(actor=world.manager, pair=world.pair, spec=svc.GridSpec(field_um=100), settings=svc.TaskSettings())


def test_distribution_gives_k_distinct_annotators_balanced_by_load(world):
    Task.objects.all().delete()
    tasks = svc.task_generate_grid(actor=world.manager, pair=world.pair, spec=svc.GridSpec(field_px=5000),
                                   settings=svc.TaskSettings())
    assert len(tasks) == 4
    created = svc.task_distribute(actor=world.manager, project=world.project)
    assert len(created) == 4 * world.project.redundancy_k
    for task in tasks:
        people = list(Assignment.objects.filter(task=task).values_list("annotator_id", flat=True))
        assert len(people) == 2 and len(set(people)) == 2
    loads = [Assignment.objects.filter(annotator=u).count() for u in (world.ann1, world.ann2, world.ann3)]
    assert max(loads) - min(loads) <= 1
    assert svc.task_distribute(actor=world.manager, project=world.project) == []  # idempotent


def test_skip_hands_the_task_to_someone_who_never_had_it(world):
    mine = Assignment.objects.get(task=world.task, annotator=world.ann1)
    svc.assignment_skip(actor=world.ann1, assignment=mine)
    people = set(Assignment.objects.filter(task=world.task).exclude(status="skipped").values_list("annotator_id", flat=True))
    assert people == {world.ann2.id, world.ann3.id}
    # with nobody left, the task just stays short
    svc.assignment_skip(actor=world.ann3, assignment=Assignment.objects.get(task=world.task, annotator=world.ann3))
    assert Assignment.objects.filter(task=world.task, annotator=world.ann1).count() == 1


def test_next_prefers_in_progress_then_priority(world):
    low = world.task
    high = Task.objects.create(project=world.project, pair=world.pair, region=low.region, min_x=0, min_y=0, max_x=10, max_y=10, priority=5)
    Assignment.objects.create(task=high, annotator=world.ann1)
    assert assignment_next_for_annotator(user=world.ann1).task_id == high.id
    svc.assignment_start(actor=world.ann1, assignment=Assignment.objects.get(task=low, annotator=world.ann1))
    assert assignment_next_for_annotator(user=world.ann1).task_id == low.id
    assert assignment_next_for_annotator(user=world.ann3) is None


def test_start_submit_accumulates_time_and_completes_task_after_k(world):
    a1 = Assignment.objects.get(task=world.task, annotator=world.ann1)
    with pytest.raises(InvalidTransition):
        svc.assignment_submit(actor=world.ann1, assignment=a1)
    svc.assignment_start(actor=world.ann1, assignment=a1)
    Assignment.objects.filter(id=a1.id).update(resumed_at=timezone.now() - timedelta(seconds=90))
    done = svc.assignment_submit(actor=world.ann1, assignment=a1)
    assert done.status == "submitted" and 89 <= done.time_spent_s <= 120
    assert Task.objects.get(id=world.task.id).status == "in_progress"
    with pytest.raises(InvalidTransition):
        svc.assignment_start(actor=world.ann1, assignment=a1)
    a2 = Assignment.objects.get(task=world.task, annotator=world.ann2)
    svc.assignment_start(actor=world.ann2, assignment=a2)
    svc.assignment_submit(actor=world.ann2, assignment=a2)
    assert Task.objects.get(id=world.task.id).status == "completed"


def test_manual_assign_refuses_duplicates_and_unassign_refuses_submitted(world):
    extra = make_user("extra")
    Membership.objects.create(project=world.project, user=extra, role=Role.ANNOTATOR)
    created = svc.assignment_create(actor=world.manager, task=world.task, annotator_id=extra.id)
    with pytest.raises(InvalidTransition):
        svc.assignment_create(actor=world.manager, task=world.task, annotator_id=extra.id)
    svc.assignment_delete(actor=world.manager, assignment=created)
    a1 = Assignment.objects.get(task=world.task, annotator=world.ann1)
    svc.assignment_start(actor=world.ann1, assignment=a1)
    svc.assignment_submit(actor=world.ann1, assignment=a1)
    with pytest.raises(InvalidTransition):
        svc.assignment_delete(actor=world.manager, assignment=a1)


def test_annotators_see_only_their_tasks(world):
    other = Task.objects.create(project=world.project, pair=world.pair, region=world.task.region, min_x=0, min_y=0, max_x=10, max_y=10)
    assert set(task_list_for_user(user=world.ann1).values_list("id", flat=True)) == {world.task.id}
    assert set(task_list_for_user(user=world.reviewer).values_list("id", flat=True)) == {world.task.id, other.id}
    assert not task_list_for_user(user=world.outsider).exists()
