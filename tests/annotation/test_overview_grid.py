"""The density grid behind the zoomed-out overview stays equal to a recount of the live rows after every kind of
write (create, move, reclassify, delete, restore, accept, COPY, hard delete), and the overview answers from it."""

import uuid

import orjson
import pytest
from django.db import connection

from annotation.models import Annotation, DensityCell
from annotation.selectors import annotations as sel
from annotation.selectors.overview import grid_applies
from annotation.selectors.projects import project_access
from annotation.services.annotations import annotation_accept_in_view
from annotation.services.annotations_copy import insert_annotations
from tests.annotation.conftest import make_pair, new_item, point, square
from tests.annotation.test_annotation_services import apply

pytestmark = pytest.mark.django_db
RECOUNT = (
    "SELECT pair_id, floor(cx / 1024)::int, floor(cy / 1024)::int, coalesce(label_class_id, 0), source, "
    "coalesce(author_id, 0), count(*) FROM annotation_annotation WHERE NOT is_deleted GROUP BY 1, 2, 3, 4, 5, 6"
)


def grid() -> set[tuple]:
    return set(DensityCell.objects.values_list("pair_id", "gx", "gy", "class_key", "source", "author_key", "n"))


def recount() -> set[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(RECOUNT)
        return {tuple(r) for r in cursor.fetchall()}


def assert_grid_matches() -> None:
    assert grid() == recount()
    assert not DensityCell.objects.filter(n__lte=0).exists()


def overview(user, world, bins=8, **extra):
    access = project_access(user=user, project_id=world.project.id)
    query = sel.ViewportQuery(world.pair.id, 0, 0, 10000, 8000, zoom=sel.ZOOM_BINS, bins=bins, **extra)
    return orjson.loads(sel.annotation_viewport(user=user, access=access, query=query))


def model_rows(world, coords, author=None) -> list[Annotation]:
    rows = [
        Annotation(id=uuid.uuid4(), project=world.project, pair=world.pair, label_class=world.classes[1], geom_type="Point",
                   geometry=point(x, y), min_x=x, min_y=y, max_x=x, max_y=y, cx=x, cy=y, source="model", author=author,
                   status="proposed")
        for x, y in coords
    ]
    insert_annotations(rows, [])  # COPY, as inference writes
    return rows


def test_grid_follows_creates_moves_reclassifies_deletes_and_restores(world):
    items = [new_item(world, geometry=point(100 + 600 * i, 100 + 500 * i)) for i in range(5)]
    apply(world.ann1, items)
    assert_grid_matches()
    assert sum(r[-1] for r in grid()) == 5
    moved = {"id": items[0]["id"], "version": 1, "geometry": square(4000, 4000)}
    relabelled = {"id": items[1]["id"], "version": 1, "label_class": world.classes[1].id}
    edited_in_place = {"id": items[2]["id"], "version": 1, "geometry": point(1301, 1101)}  # same cell
    apply(world.ann1, [moved, relabelled, edited_in_place])
    assert_grid_matches()
    apply(world.ann1, [{"op": "delete", "id": items[3]["id"], "version": 1}])
    assert_grid_matches()
    assert sum(r[-1] for r in grid()) == 4
    apply(world.ann1, [{"op": "restore", "id": items[3]["id"], "version": 2}])
    apply(world.ann1, [{"op": "restore", "id": items[0]["id"], "version": 2, "to_version": 1}])  # back to its old cell
    assert_grid_matches()
    assert sum(r[-1] for r in grid()) == 5


def test_grid_follows_copy_inserts_accepts_and_hard_deletes(world):
    model_rows(world, [(10 * i, 700 + 3 * i) for i in range(40)])
    assert_grid_matches()
    annotation_accept_in_view(actor=world.manager, pair=world.pair, access=project_access(user=world.manager,
                              project_id=world.project.id), bbox=(0, 0, 200, 2000))
    assert_grid_matches()
    Annotation.objects.filter(min_x__lt=100).delete()
    assert_grid_matches()
    world.pair.delete()  # cascades to the annotations: their cells go too
    assert grid() == set()


def test_overview_from_the_grid_counts_exactly_per_snapped_bin(world):
    coords = [(37 * i % 9990, 53 * i % 7990) for i in range(300)]
    model_rows(world, coords)
    apply(world.ann1, [new_item(world, geometry=point(4999, 4999))])
    body = overview(world.manager, world)  # 10000 / 8 = 1250 px asked: bins of one grid cell (1024 px)
    assert body["mode"] == "bins" and body["cell_w"] == body["cell_h"] == 1024 and body["x0"] == body["y0"] == 0
    assert body["count"] == 301 and sum(c[2] for c in body["cells"]) == 301
    expected: dict[tuple[int, int], int] = {}
    for x, y in [*coords, (4999, 4999)]:
        key = (int(x // 1024), int(y // 1024))
        expected[key] = expected.get(key, 0) + 1
    assert {(i, j): c for i, j, c in body["cells"]} == expected
    assert body["nx"] * body["cell_w"] >= 10000 and body["ny"] * body["cell_h"] >= 8000


def test_overview_from_the_grid_honours_blind_mode_and_filters(world):
    model_rows(world, [(100, 100), (900, 900)])
    apply(world.ann1, [new_item(world, geometry=point(200, 200))])
    apply(world.ann2, [new_item(world, geometry=point(300, 300))])
    assert overview(world.ann1, world)["count"] == 3  # blind: own + proposals
    assert overview(world.manager, world)["count"] == 4
    assert overview(world.manager, world, source="model")["count"] == 2
    assert overview(world.manager, world, label_class_id=world.classes[0].id)["count"] == 2
    # a task filter needs the rows, and so does a grid finer than one cell per bin
    assert not grid_applies(width=10000, height=8000, bins=8, task_id=world.task.id)
    assert not grid_applies(width=10000, height=8000, bins=64, task_id=None)
    coarse = overview(world.manager, world, bins=12)  # 833 x 667 px asked: rounded up to one whole cell
    assert coarse["count"] == 4 and coarse["cell_w"] == 1024 and coarse["nx"] == 10
    assert overview(world.manager, world, task_id=world.task.id)["count"] == 4  # task labels + proposals
    fine = overview(world.manager, world, bins=64)
    assert fine["count"] == 4 and fine["cell_w"] == 10000 / 64


def test_grid_is_per_pair(world):
    other = make_pair(world.project, "second")
    model_rows(world, [(50, 50)])
    x = Annotation(id=uuid.uuid4(), project=world.project, pair=other, geom_type="Point", geometry=point(50, 50),
                   min_x=50, min_y=50, max_x=50, max_y=50, cx=50, cy=50, source="model", status="proposed")
    insert_annotations([x], [])
    assert overview(world.manager, world)["count"] == 1
    assert {r[0] for r in grid()} == {world.pair.id, other.id}


def test_viewport_feature_text_follows_every_write_and_matches_the_portable_path(world):
    items = [new_item(world, geometry=square(100 + 30 * i, 100)) for i in range(3)]
    apply(world.manager, [{**items[0], "source": "model", "confidence": 0.25}, *items[1:]])
    apply(world.manager, [{"id": items[1]["id"], "version": 1, "label_class": None, "geometry": point(5, 5)}])
    model_rows(world, [(900, 900)], author=world.ann1)
    access = project_access(user=world.manager, project_id=world.project.id)
    vis = sel.visibility_for(user=world.manager, access=access)
    query = sel.ViewportQuery(world.pair.id, 0, 0, 1000, 1000)
    fast, portable = orjson.loads(sel._viewport_postgres(query, vis)), orjson.loads(sel._viewport_orm(query, vis))
    assert fast["mode"] == "features" and fast["count"] == 4
    assert sorted(fast["features"], key=lambda f: f["id"]) == sorted(portable["features"], key=lambda f: f["id"])
    moved = next(f for f in fast["features"] if f["id"] == items[1]["id"])
    assert moved["version"] == 2 and moved["label_class"] is None and moved["geometry"]["type"] == "Point"
