import uuid

import orjson
import pytest

from annotation.models import Annotation
from annotation.selectors import annotations as sel
from annotation.selectors.projects import project_access
from annotation.services.stats import StatsScope, project_stats

pytestmark = pytest.mark.django_db


def _rows(world, n: int, author, source="human", x0=0.0, step=10.0, task=True) -> list[Annotation]:
    rows = []
    for i in range(n):
        x, y = x0 + (i % 100) * step, (i // 100) * step
        rows.append(Annotation(
            id=uuid.uuid4(), project=world.project, pair=world.pair, task=world.task if task else None, label_class=world.classes[0],
            geom_type="Point", geometry={"type": "Point", "coordinates": [x, y]}, min_x=x, min_y=y, max_x=x, max_y=y, cx=x, cy=y,
            source=source, author=author, status="proposed" if source == "model" else "none",
        ))
    return Annotation.objects.bulk_create(rows)


def view(user, world, bbox=(0, 0, 10000, 8000), zoom=1.0, **extra):
    access = project_access(user=user, project_id=world.project.id)
    query = sel.ViewportQuery(world.pair.id, *bbox, zoom=zoom, **extra)
    return orjson.loads(sel.annotation_viewport(user=user, access=access, query=query))


def test_viewport_returns_polygons_in_the_box_only(world):
    _rows(world, 50, world.ann1)
    body = view(world.manager, world, bbox=(0, 0, 95, 5))
    assert body["mode"] == "features" and body["count"] == 10
    feature = body["features"][0]
    assert set(feature) >= {"id", "version", "label_class", "source", "status", "geometry"}
    assert all(f["geometry"]["coordinates"][0] <= 95 for f in body["features"])


def test_level_of_detail_switches_to_points_then_bins(world, monkeypatch):
    _rows(world, 300, world.ann1)
    monkeypatch.setattr(sel, "MAX_FEATURES", 100)
    monkeypatch.setattr(sel, "MAX_POINTS", 200)
    assert view(world.manager, world, bbox=(0, 0, 1000, 5))["mode"] == "features"  # 100 in view
    points = view(world.manager, world, bbox=(0, 0, 1000, 15))  # 200 in view: too many outlines
    assert points["mode"] == "points" and points["count"] == 200 and len(points["points"][0]) == 5
    bins = view(world.manager, world, bins=4)  # 300: too many dots
    assert bins["mode"] == "bins" and bins["count"] == 300 and sum(c[2] for c in bins["cells"]) == 300
    assert view(world.manager, world, bbox=(0, 0, 1000, 5), zoom=sel.ZOOM_POINTS)["mode"] == "points"
    assert view(world.manager, world, bbox=(0, 0, 1000, 5), zoom=sel.ZOOM_BINS)["mode"] == "bins"


def test_orm_fallback_gives_the_same_answer_as_sql(world, monkeypatch):
    _rows(world, 120, world.ann1)
    monkeypatch.setattr(sel, "MAX_FEATURES", 100)
    access = project_access(user=world.manager, project_id=world.project.id)
    vis = sel.visibility_for(user=world.manager, access=access)
    for bbox in ((0, 0, 200, 200), (0, 0, 10000, 8000)):
        query = sel.ViewportQuery(world.pair.id, *bbox)
        fast, portable = orjson.loads(sel._viewport_postgres(query, vis)), orjson.loads(sel._viewport_orm(query, vis))
        assert fast["mode"] == portable["mode"] and fast["count"] == portable["count"]
        if fast["mode"] == "features":
            assert sorted(f["id"] for f in fast["features"]) == sorted(f["id"] for f in portable["features"])
        else:
            assert sorted(p[0] for p in fast["points"]) == sorted(p[0] for p in portable["points"])


def test_blind_mode_viewport_shows_an_annotator_only_their_labels_and_proposals(world):
    mine = _rows(world, 3, world.ann1)
    _rows(world, 4, world.ann2, x0=5)
    proposals = _rows(world, 2, None, source="model", x0=7, task=False)
    seen = {f["id"] for f in view(world.ann1, world)["features"]}
    assert seen == {str(r.id) for r in mine + proposals}
    assert view(world.reviewer, world)["count"] == 9
    world.project.blind_mode = False
    world.project.save()
    assert view(world.ann1, world)["count"] == 9


def test_task_filter_keeps_the_tasks_labels_and_model_proposals(world):
    _rows(world, 3, world.ann1)
    _rows(world, 2, world.manager, task=False, x0=3)
    _rows(world, 1, None, source="model", task=False, x0=7)
    assert view(world.manager, world, task_id=world.task.id)["count"] == 4


def test_stats_count_by_status_class_source_and_respect_blind_mode(world):
    _rows(world, 3, world.ann1)
    _rows(world, 5, world.ann2, x0=3)
    _rows(world, 2, None, source="model", task=False, x0=7)
    manager = project_stats(user=world.manager, access=project_access(user=world.manager, project_id=world.project.id), scope=StatsScope())
    assert manager["annotations"]["total"] == 10
    assert manager["annotations"]["by_source"] == {"human": 8, "model": 2}
    assert {a["user"]: a["annotations"] for a in manager["annotators"]} == {world.ann1.id: 3, world.ann2.id: 5}
    assert manager["per_task"][0]["annotations"] == 8 and manager["tasks"]["total"] == 1
    annotator = project_stats(user=world.ann1, access=project_access(user=world.ann1, project_id=world.project.id), scope=StatsScope())
    assert annotator["blind"] and annotator["annotations"]["total"] == 5
    assert [a["user"] for a in annotator["annotators"]] == [world.ann1.id]
    scoped = project_stats(user=world.manager, access=project_access(user=world.manager, project_id=world.project.id),
                           scope=StatsScope(task_id=world.task.id))
    assert scoped["annotations"]["total"] == 8


def test_bins_count_centroids_and_sql_matches_the_portable_path(world, monkeypatch):
    _rows(world, 250, world.ann1)
    access = project_access(user=world.manager, project_id=world.project.id)
    vis = sel.visibility_for(user=world.manager, access=access)
    query = sel.ViewportQuery(world.pair.id, 0, 0, 505, 15, zoom=sel.ZOOM_BINS, bins=8)
    fast, portable = orjson.loads(sel._bins_sql(query, vis)), orjson.loads(sel._viewport_orm(query, vis))
    assert fast["count"] == portable["count"] == 102  # x 0..500 step 10 (51) x rows y=0,10 (2)
    assert sorted(map(tuple, fast["cells"])) == sorted(map(tuple, portable["cells"]))
