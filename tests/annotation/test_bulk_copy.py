"""New annotations written by COPY keep every value exactly (escaping, numbers, nulls), as the ORM would."""

import pytest

from annotation.models import Annotation, AnnotationEvent
from tests.annotation.conftest import new_item, square
from tests.annotation.test_annotation_services import apply

pytestmark = pytest.mark.django_db


def test_copied_rows_and_events_keep_every_value(world):
    tricky = {"note": 'back\\slash "quoted"\ttab\nnewline ünïcode', "n": 1e-7, "nested": {"k": [1, None, True]}}
    items = [
        new_item(world, geometry=square(10.125, 20.5), properties=tricky, confidence=0.1, source="model"),
        new_item(world, label_class=None, task=None),
    ]
    result = apply(world.manager, items)
    assert [r["result"] for r in result["results"]] == ["created", "created"]
    row = Annotation.objects.get(id=items[0]["id"])
    assert row.properties == tricky and row.confidence == 0.1 and row.source == "model" and row.status == "proposed"
    assert row.min_x == 10.125 and row.max_y == 30.5 and row.author_id is None and row.version == 1  # a proposal
    assert row.created_at is not None and row.updated_at is not None and not row.is_deleted
    bare = Annotation.objects.get(id=items[1]["id"])
    assert bare.label_class_id is None and bare.task_id is None and bare.confidence is None and bare.properties == {}
    assert bare.author_id == world.manager.id and bare.source == "human" and bare.status == "none"
    event = AnnotationEvent.objects.get(annotation=row)
    assert event.action == "create" and event.before is None and event.after["properties"] == tricky
    assert result["results"][0]["annotation"] == {**event.after, "version": 1}


def test_set_based_updates_keep_every_value(world):
    item = new_item(world, properties={"a": 1}, confidence=0.5)
    apply(world.manager, [item])
    tricky = {"note": 'back\\slash "q"\nü', "list": [1.5, None]}
    change = {"id": item["id"], "version": 1, "geometry": square(100.25, 200), "properties": tricky, "confidence": None,
              "label_class": world.classes[1].id}
    result = apply(world.manager, [change])["results"][0]
    row = Annotation.objects.get(id=item["id"])
    assert row.version == 2 and row.properties == tricky and row.confidence is None and row.label_class_id == world.classes[1].id
    assert (row.min_x, row.min_y, row.max_x, row.max_y, row.cx, row.cy) == (100.25, 200, 110.25, 210, 105.25, 205)
    assert row.geometry == square(100.25, 200) and row.updated_at > row.created_at
    assert result["annotation"] == {**AnnotationEvent.objects.get(annotation=row, version=2).after, "version": 2}


def test_new_rows_stream_while_the_loop_queries_and_a_late_error_saves_nothing(world):
    from annotation.errors import InvalidGeometry

    first = [new_item(world, geometry=square(10 + i, 10)) for i in range(3)]
    apply(world.manager, first)
    # creates, then an update of an existing row (its replay check queries mid-stream), then creates on another pair
    other = world.project.pairs.create(name="second", anatomical=world.pair.anatomical)
    mixed = [new_item(world, geometry=square(40 + i, 10)) for i in range(5)]
    mixed.append({"id": first[0]["id"], "version": 1, "label_class": world.classes[1].id})
    mixed += [new_item(world, pair=other.id, task=None, geometry=square(60 + i, 10)) for i in range(4)]
    results = apply(world.manager, mixed)["results"]
    assert [r["result"] for r in results] == ["created"] * 5 + ["updated"] + ["created"] * 4
    assert Annotation.objects.filter(pair=other).count() == 4 and Annotation.objects.filter(pair=world.pair).count() == 8
    assert AnnotationEvent.objects.count() == 3 + 10

    # item 300 is invalid after 299 rows were already sent to PostgreSQL: the whole request is rolled back
    batch = [new_item(world, geometry=square(100 + i, 100)) for i in range(400)]
    batch[299]["geometry"] = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}
    with pytest.raises(InvalidGeometry):
        apply(world.manager, batch)
    assert Annotation.objects.count() == 12 and AnnotationEvent.objects.count() == 13


def test_a_streamed_duplicate_id_is_an_integrity_error_django_can_catch(world):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from annotation.services.annotations_copy import NewRow, NewRowStream

    taken = Annotation.objects.create(project=world.project, pair=world.pair, geom_type="Point",
                                      geometry={"type": "Point", "coordinates": [1, 1]}, min_x=1, min_y=1, max_x=1, max_y=1, cx=1, cy=1)
    row = NewRow(id=taken.id, project_id=world.project.id, pair_id=world.pair.id, geom_type="Point",
                 geometry={"type": "Point", "coordinates": [2, 2]}, min_x=2, min_y=2, max_x=2, max_y=2, cx=2, cy=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        with NewRowStream(timezone.now(), expected=NewRowStream.BATCH + 1) as stream:  # streamed
            stream.write(row)
    assert Annotation.objects.get(id=taken.id).cx == 1


def test_streamed_rows_keep_every_value_like_the_one_statement_path(world):
    from annotation.services.annotations_copy import NewRowStream

    tricky = {"note": 'back\\slash "quoted"\ttab\nnewline ünïcode', "n": 1e-7, "nested": {"k": [1, None, True]}}
    items = [new_item(world, geometry=square(10.125 + i, 20.5), properties=tricky if i % 7 == 0 else {}, confidence=0.1)
             for i in range(NewRowStream.BATCH * 2 + 3)]  # more than a batch: streamed by COPY
    apply(world.manager, items)
    rows = {str(r.id): r for r in Annotation.objects.filter(id__in=[i["id"] for i in items])}
    assert len(rows) == len(items)
    for i, item in enumerate(items):
        row = rows[item["id"]]
        assert row.properties == (tricky if i % 7 == 0 else {}) and row.min_x == 10.125 + i and row.confidence == 0.1
    events = {str(e.annotation_id): e for e in AnnotationEvent.objects.filter(annotation_id__in=list(rows))}
    assert len(events) == len(items) and all(e.action == "create" and e.before is None for e in events.values())
    assert events[items[0]["id"]].after["properties"] == tricky and events[items[1]["id"]].after["properties"] == {}
