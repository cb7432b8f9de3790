import uuid

import pytest

from annotation.errors import InvalidGeometry, NotFound, PayloadTooLarge, PermissionDenied, VersionConflict
from annotation.models import Annotation, AnnotationEvent, BulkRequest
from annotation.selectors.annotations import annotation_history_for_user
from annotation.selectors.projects import Access
from annotation.serializers.annotations import parse_bulk_request
from annotation.services.annotations import MAX_BULK_ITEMS, annotation_accept_in_view, annotation_bulk_apply
from tests.annotation.conftest import new_item, point, square

pytestmark = pytest.mark.django_db


def apply(user, items, key=None):
    body = {"items": items}
    if key:
        body["request_id"] = key
    parsed, request_key = parse_bulk_request(body)
    return annotation_bulk_apply(actor=user, items=parsed, request_key=request_key)


def test_create_then_update_bumps_version_and_writes_events(world):
    item = new_item(world)
    created = apply(world.ann1, [item])["results"][0]
    assert created["result"] == "created" and created["version"] == 1
    updated = apply(world.ann1, [{"id": item["id"], "version": 1, "geometry": square(50, 50)}])["results"][0]
    assert updated["result"] == "updated" and updated["annotation"]["version"] == 2
    row = Annotation.objects.get(id=item["id"])
    assert row.geom_type == "Polygon" and row.min_x == 50 and row.label_class_id == world.classes[0].id
    actions = list(AnnotationEvent.objects.filter(annotation=row).values_list("action", "version", "actor_id"))
    assert actions == [("create", 1, world.ann1.id), ("update", 2, world.ann1.id)]
    event = AnnotationEvent.objects.get(annotation=row, version=2)
    assert event.before["geometry"]["type"] == "Point" and event.after["geometry"]["type"] == "Polygon"


def test_stale_version_is_a_conflict_carrying_the_current_row_and_saves_nothing(world):
    item = new_item(world)
    apply(world.ann1, [item])
    apply(world.ann1, [{"id": item["id"], "version": 1, "label_class": world.classes[1].id}])
    other = new_item(world)
    with pytest.raises(VersionConflict) as caught:
        apply(world.ann1, [other, {"id": item["id"], "version": 1, "label_class": None}])
    conflict = caught.value.extra["conflicts"][0]
    assert conflict["id"] == item["id"] and conflict["current"]["version"] == 2
    assert conflict["current"]["label_class"] == world.classes[1].id
    assert not Annotation.objects.filter(id=other["id"]).exists()


def test_replayed_request_creates_nothing_twice(world):
    items = [new_item(world), new_item(world, geometry=square(10, 10))]
    first = apply(world.ann1, items)
    again = apply(world.ann1, items)
    assert [r["result"] for r in again["results"]] == ["unchanged", "unchanged"]
    assert [r["annotation"] for r in again["results"]] == [r["annotation"] for r in first["results"]]
    assert Annotation.objects.count() == 2 and AnnotationEvent.objects.count() == 2
    update = [{"id": items[0]["id"], "version": 1, "geometry": point(7, 7)}]
    apply(world.ann1, update)
    assert apply(world.ann1, update)["results"][0]["result"] == "unchanged"
    assert Annotation.objects.get(id=items[0]["id"]).version == 2


def test_replay_with_request_id_returns_the_stored_answer(world):
    key = str(uuid.uuid4())
    items = [new_item(world)]
    first = apply(world.ann1, items, key)
    # even after a later edit, the same key answers what it answered then
    apply(world.ann1, [{"id": items[0]["id"], "version": 1, "geometry": point(9, 9)}])
    again = apply(world.ann1, items, key)
    assert again["replayed"] is True and again["results"] == first["results"]
    assert BulkRequest.objects.filter(key=key).count() == 1


def test_delete_is_soft_and_restore_brings_it_back(world):
    item = new_item(world)
    apply(world.ann1, [item])
    apply(world.ann1, [{"op": "delete", "id": item["id"], "version": 1}])
    row = Annotation.objects.get(id=item["id"])
    assert row.is_deleted and row.version == 2
    restored = apply(world.ann1, [{"op": "restore", "id": item["id"], "version": 2}])["results"][0]
    assert restored["result"] == "restored" and restored["annotation"]["is_deleted"] is False
    back = apply(world.ann1, [{"op": "restore", "id": item["id"], "version": 3, "to_version": 1}])["results"][0]
    assert back["annotation"]["version"] == 4
    assert [e.action for e in annotation_history_for_user(user=world.ann1, annotation_id=item["id"])] == [
        "create", "delete", "restore", "restore"]


def test_annotator_cannot_label_without_an_open_assignment(world):
    with pytest.raises(PermissionDenied):
        apply(world.ann3, [new_item(world)])
    with pytest.raises(PermissionDenied):
        apply(world.ann1, [new_item(world, task=None)])


def test_annotator_cannot_touch_another_annotators_label_and_blind_mode_hides_it(world):
    item = new_item(world)
    apply(world.ann1, [item])
    with pytest.raises(NotFound):  # blind: ann2 cannot even see it
        apply(world.ann2, [{"id": item["id"], "version": 1, "geometry": point(5, 5)}])
    world.project.blind_mode = False
    world.project.save()
    with pytest.raises(PermissionDenied):
        apply(world.ann2, [{"id": item["id"], "version": 1, "geometry": point(5, 5)}])


def test_reviewer_accepts_but_does_not_edit_human_labels(world):
    item = new_item(world)
    apply(world.ann1, [item])
    with pytest.raises(PermissionDenied):
        apply(world.reviewer, [{"id": item["id"], "version": 1, "geometry": point(5, 5)}])
    accepted = apply(world.reviewer, [{"op": "accept", "id": item["id"], "version": 1}])["results"][0]
    assert accepted["annotation"]["status"] == "accepted"
    review = apply(world.reviewer, [new_item(world, task=None)])["results"][0]
    assert review["annotation"]["source"] == "review"


def test_proposals_are_accepted_rejected_or_edited_by_annotators(world):
    proposals = [new_item(world, source="model", task=None, geometry=point(100 + i, 100)) for i in range(3)]
    apply(world.manager, proposals)
    assert set(Annotation.objects.values_list("status", flat=True)) == {"proposed"}
    edit = apply(world.ann1, [{"id": proposals[0]["id"], "version": 1, "geometry": point(1, 1)}])["results"][0]
    assert edit["annotation"]["status"] == "edited"
    rejected = apply(world.ann1, [{"op": "reject", "id": proposals[1]["id"], "version": 1}])["results"][0]
    assert rejected["annotation"]["status"] == "rejected"
    access = Access(project=world.project, role="annotator")
    ids = annotation_accept_in_view(actor=world.ann1, pair=world.pair, access=access, bbox=(0, 0, 500, 500))
    assert ids == [proposals[2]["id"]]
    assert Annotation.objects.get(id=proposals[2]["id"]).status == "accepted"
    with pytest.raises(PermissionDenied):
        annotation_accept_in_view(actor=world.ann3, pair=world.pair, access=access, bbox=(0, 0, 500, 500))


def test_invalid_geometry_and_foreign_class_are_refused(world):
    with pytest.raises(InvalidGeometry):
        apply(world.ann1, [new_item(world, geometry=point(99999, 5))])
    with pytest.raises(InvalidGeometry):
        apply(world.ann1, [new_item(world, geometry={"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]})])
    from annotation.models import LabelClass

    foreign = LabelClass.objects.create(project=world.other_project, name="x")
    with pytest.raises(Exception, match="label class"):
        apply(world.ann1, [new_item(world, label_class=foreign.id)])


def test_too_many_items_is_payload_too_large(world):
    with pytest.raises(PayloadTooLarge):
        apply(world.manager, [new_item(world) for _ in range(MAX_BULK_ITEMS + 1)])


def test_outsider_cannot_write_into_another_project(world):
    with pytest.raises(NotFound):
        apply(world.outsider, [new_item(world)])


def test_blind_mode_hides_which_proposals_another_annotator_decided_on(world):
    from annotation.selectors.annotations import annotation_list_for_user, visibility_for

    proposal = new_item(world, source="model", task=None)
    other = new_item(world, source="model", task=None, geometry=square(40, 40))
    apply(world.manager, [proposal, other])
    assert Annotation.objects.get(id=proposal["id"]).author_id is None  # the model's, not the manager's
    apply(world.ann1, [{"op": "accept", "id": proposal["id"], "version": 1}])
    apply(world.ann1, [{"id": other["id"], "version": 1, "label_class": world.classes[1].id}])  # an edit decides too
    assert set(Annotation.objects.filter(id__in=[proposal["id"], other["id"]]).values_list("author_id", flat=True)) == {
        world.ann1.id}

    def seen(user):
        access = Access(project=world.project, role=world.project.memberships.get(user=user).role)
        return {str(a.id): a.status for a in annotation_list_for_user(user=user, access=access)}, access

    mine, _ = seen(world.ann1)
    assert mine[proposal["id"]] == "accepted" and mine[other["id"]] == "edited"
    theirs, access2 = seen(world.ann2)
    assert proposal["id"] not in theirs and other["id"] not in theirs  # neither the row nor the decision
    with pytest.raises(NotFound):
        annotation_history_for_user(user=world.ann2, annotation_id=proposal["id"])
    with pytest.raises((NotFound, PermissionDenied)):  # nor can they overwrite the decision
        apply(world.ann2, [{"op": "reject", "id": proposal["id"], "version": 2}])
    assert Annotation.objects.get(id=proposal["id"]).status == "accepted"
    assert visibility_for(user=world.ann2, access=access2).own_only_user_id == world.ann2.id
    seen_by_manager = annotation_history_for_user(user=world.manager, annotation_id=proposal["id"])
    assert [e.action for e in seen_by_manager] == ["create", "accept"]


def test_writes_broadcast_ids_only_and_hide_tasks_in_blind_mode(world, monkeypatch):
    from annotation.services import annotations as module

    sent = []
    monkeypatch.setattr(module, "broadcast", lambda groups, event, payload: sent.append((groups, event, payload)))
    item = new_item(world)
    apply(world.ann1, [item])
    assert sent == [([f"project.{world.project.id}"], "annotations.changed", {"pair": world.pair.id, "ids": [item["id"]]})]
    world.project.blind_mode = False
    world.project.save()
    apply(world.ann1, [{"id": item["id"], "version": 1, "geometry": point(8, 8)}])
    assert sent[-1][2] == {"pair": world.pair.id, "ids": [item["id"]], "tasks": [world.task.id]}


def test_accept_in_view_with_a_task_stays_inside_its_field(world):
    inside = new_item(world, source="model", task=None, geometry=point(100, 100))
    outside = new_item(world, source="model", task=None, geometry=point(6000, 6000))
    apply(world.manager, [inside, outside])
    access = Access(project=world.project, role="annotator")
    ids = annotation_accept_in_view(actor=world.ann1, pair=world.pair, access=access, bbox=(0, 0, 9000, 7000), task_id=world.task.id)
    assert ids == [inside["id"]]


def test_annotators_label_inside_their_tasks_field_of_view(world):
    with pytest.raises(InvalidGeometry, match="field of view"):
        apply(world.ann1, [new_item(world, geometry=point(6000, 6000))])  # the task covers 0..5000
    apply(world.manager, [new_item(world, geometry=point(6000, 6000))])  # managers are not held to it


def test_accepted_and_fixed_proposals_count_as_the_annotators_labels_in_consensus(world):
    from annotation.models import Assignment
    from annotation.selectors.consensus import consensus_inputs

    accepted = new_item(world, source="model", geometry=point(20, 20))
    fixed = new_item(world, source="model", geometry=point(60, 60))
    rejected = new_item(world, source="model", geometry=point(90, 90))
    apply(world.manager, [accepted, fixed, rejected])
    apply(world.ann1, [{"op": "accept", "id": accepted["id"], "version": 1},
                       {"id": fixed["id"], "version": 1, "label_class": world.classes[1].id},
                       {"op": "reject", "id": rejected["id"], "version": 1}])
    Assignment.objects.filter(task=world.task, annotator=world.ann1).update(status=Assignment.Status.SUBMITTED)
    (task,) = [t for t in consensus_inputs(project_id=world.project.id, model_version_id=None) if t.task_id == world.task.id]
    by_id = {lab.id: lab for lab in task.labels}
    assert set(by_id) == {accepted["id"], fixed["id"]}
    assert {lab.author_id for lab in by_id.values()} == {world.ann1.id}
    assert by_id[fixed["id"]].class_name == world.classes[1].name
