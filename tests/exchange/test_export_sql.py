"""The PostgreSQL-built GeoJSON export equals the portable Python encoder feature for feature, across chunk
boundaries, classes with and without colour, measurements, confidence, authors and blind mode."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest

from annotation.exchange.geojson import parse_features, stream_feature_collection
from annotation.geometry import validate_geometry
from annotation.models import Annotation, LabelClass
from annotation.selectors.annotations import visibility_for
from annotation.selectors.projects import project_access
from annotation.services.exchange import export_records
from annotation.services.export_sql import as_async, geojson_chunks
from tests.annotation.conftest import make_user, world  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _add(world, geometry, *, cls=None, author=None, source="human", task=None, confidence=None, properties=None):  # noqa: F811
    info = validate_geometry(geometry)
    return Annotation.objects.create(
        id=uuid.uuid4(), project=world.project, pair=world.pair, task=task, label_class=cls, geom_type=info.geom_type,
        geometry=info.geometry, min_x=info.min_x, min_y=info.min_y, max_x=info.max_x, max_y=info.max_y, cx=info.cx,
        cy=info.cy, author=author, source=source, confidence=confidence, properties=properties or {},
        status="proposed" if source == "model" else "none",
    )


@pytest.fixture
def labelled(world):  # noqa: F811
    odd = LabelClass.objects.create(project=world.project, name='quote " and \\ ünïcode', color="#zz0000")
    world.classes[0].color = "#12ab9f"
    world.classes[0].save()
    quoted = make_user('o"brien')
    square = {"type": "Polygon", "coordinates": [[[10, 10], [40, 10], [40, 40], [10, 40], [10, 10]]]}
    _add(world, square, cls=world.classes[0], author=world.ann1, task=world.task,
         properties={"measurements": {"area_um2": 12.5, "name": "x"}})
    _add(world, {"type": "Point", "coordinates": [100.5, 120.25]}, cls=odd, author=quoted, confidence=0.75)
    _add(world, {"type": "Point", "coordinates": [7, 8]}, source="model", confidence=0.5,
         properties={"measurements": {"confidence": 0.9}})
    _add(world, {"type": "Point", "coordinates": [9, 9]}, cls=world.classes[1], author=world.ann2, task=world.task,
         properties={"measurements": [1, 2]})
    _add(world, {"type": "Point", "coordinates": [3, 3]}, source="consensus", author=world.manager)
    deleted = _add(world, {"type": "Point", "coordinates": [4, 4]}, author=world.ann1)
    Annotation.objects.filter(id=deleted.id).update(is_deleted=True)
    return world


def _both(user, world, **filters):  # noqa: F811
    vis = visibility_for(user=user, access=project_access(user=user, project_id=world.project.id))
    fast = orjson.loads(b"".join(geojson_chunks(visibility=vis, chunk_rows=2, **filters)))
    portable = orjson.loads(b"".join(stream_feature_collection(export_records(visibility=vis, **filters))))
    return fast, portable


def test_sql_export_matches_the_portable_encoder(labelled):
    fast, portable = _both(labelled.manager, labelled, pair_id=labelled.pair.id)
    assert fast == portable and len(fast["features"]) == 5
    by_id = {f["id"]: f["properties"] for f in fast["features"]}
    assert {p["objectType"] for p in by_id.values()} == {"annotation", "detection"}
    assert any(p.get("classification") == {"name": "a", "color": [0x12, 0xAB, 0x9F]} for p in by_id.values())
    assert any(p.get("measurements") == {"confidence": 0.9} for p in by_id.values())  # the stored value wins
    assert [r.class_name for r in parse_features(orjson.dumps(fast))].count('quote " and \\ ünïcode') == 1


def test_sql_export_filters_and_blind_mode_match(labelled):
    for filters in ({"task_id": labelled.task.id}, {"sources": ["model", "consensus"]}, {}):
        fast, portable = _both(labelled.manager, labelled, **filters)
        assert fast == portable
    fast, portable = _both(labelled.ann1, labelled)  # blind: own labels and model proposals only
    assert fast == portable and len(fast["features"]) == 2
    empty, _ = _both(labelled.ann3, labelled, sources=["human"])
    assert empty == {"type": "FeatureCollection", "features": []}


def test_async_adapter_yields_every_chunk_in_order():
    async def collect():
        return [c async for c in as_async(iter([b"a", b"b", b"c"]))]

    assert asyncio.run(collect()) == [b"a", b"b", b"c"]
