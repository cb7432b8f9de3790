"""Export and import through the API: QuPath GeoJSON and COCO round trips, masks, blind mode, audit."""

from __future__ import annotations

import io

import numpy as np
import orjson
import pytest
from PIL import Image

from annotation.exchange.tabular import coco_polygons
from annotation.geometry import validate_geometry
from annotation.models import Annotation, AuditEvent, Membership, SlidePair, Task
from tests.support.pairs import project_with_pair


@pytest.fixture
def slide_root(settings, tmp_path_factory):
    settings.SLIDE_ROOT = tmp_path_factory.getbasetemp() / "slides-ml"
    settings.VAR_DIR = tmp_path_factory.getbasetemp() / "var-ml"
    return settings.SLIDE_ROOT


def _add(fx, task, user, geometry, cls, source="human"):
    info = validate_geometry(geometry)
    return Annotation.objects.create(project=fx.project, pair=fx.pair, task=task, label_class=fx.classes[cls],
                                     geom_type=info.geom_type, geometry=info.geometry, min_x=info.min_x,
                                     min_y=info.min_y, max_x=info.max_x, max_y=info.max_y, cx=info.cx, cy=info.cy,
                                     author=user, source=source, properties={"measurements": {"area_um2": 12.5}})


@pytest.fixture
def world(slide_root, user_factory):
    manager, lay1, lay2, outsider = user_factory(), user_factory(), user_factory(), user_factory()
    fx = project_with_pair(size_px=512, manager=manager, annotators=[lay1, lay2])
    task = Task.objects.create(project=fx.project, pair=fx.pair, min_x=0, min_y=0, max_x=256, max_y=256,
                               label_mode="exhaustive",
                               region={"type": "Polygon", "coordinates": [[[0, 0], [256, 0], [256, 256], [0, 256], [0, 0]]]})
    task.classes.set(fx.classes.values())
    square = {"type": "Polygon", "coordinates": [[[10, 10], [40, 10], [40, 40], [10, 40], [10, 10]]]}
    _add(fx, task, lay1, square, "podocyte")
    _add(fx, task, lay1, {"type": "Point", "coordinates": [100.5, 120.25]}, "endothelial")
    _add(fx, task, lay2, {"type": "Point", "coordinates": [200, 200]}, "mesangial")
    _add(fx, task, None, {"type": "Point", "coordinates": [150, 60]}, "podocyte", source="model")
    return fx, task, manager, lay1, outsider


def _stream(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.django_db
def test_geojson_export_round_trips_into_another_pair(world, client):
    fx, _, manager, _, _ = world
    client.force_login(manager)
    response = client.get(f"/api/pairs/{fx.pair.id}/export/geojson/")
    assert response.status_code == 200 and response["Content-Type"] == "application/geo+json"
    body = _stream(response)
    doc = orjson.loads(body)
    assert len(doc["features"]) == 4
    assert {f["properties"]["objectType"] for f in doc["features"]} == {"annotation", "detection"}
    other = SlidePair.objects.create(project=fx.project, name="copy", anatomical=fx.pair.anatomical)
    imported = client.post(f"/api/pairs/{other.id}/import/geojson/", data=body, content_type="application/json")
    assert imported.status_code == 201, imported.content
    assert imported.json() == {"features": 4, "created": 4}
    before = sorted((a.geometry["type"], str(a.geometry["coordinates"]), a.label_class.name)
                    for a in Annotation.objects.filter(pair=fx.pair).select_related("label_class"))
    after = sorted((a.geometry["type"], str(a.geometry["coordinates"]), a.label_class.name)
                   for a in Annotation.objects.filter(pair=other).select_related("label_class"))
    assert before == after
    copied = Annotation.objects.filter(pair=other).first()
    assert copied.properties["measurements"] == {"area_um2": 12.5} and copied.events.filter(action="create").exists()
    assert AuditEvent.objects.filter(project=fx.project, action="export.geojson", actor=manager).exists()
    assert AuditEvent.objects.filter(project=fx.project, action="import.geojson", actor=manager).exists()


@pytest.mark.django_db
def test_export_honours_blind_mode_and_membership(world, client):
    fx, _, _, lay1, outsider = world
    client.force_login(lay1)
    doc = orjson.loads(_stream(client.get(f"/api/pairs/{fx.pair.id}/export/geojson/")))
    authors = {f["properties"]["laypath"]["author"] for f in doc["features"]}
    assert authors == {lay1.username, None}  # own labels and model proposals only
    assert client.post(f"/api/pairs/{fx.pair.id}/import/geojson/", data=b"{}", content_type="application/json").status_code == 403
    client.force_login(outsider)
    assert client.get(f"/api/pairs/{fx.pair.id}/export/geojson/").status_code == 404
    assert client.get(f"/api/projects/{fx.project.id}/export/coco/").status_code == 404


@pytest.mark.django_db
def test_coco_export_round_trips_polygons(world, client):
    fx, task, manager, _, _ = world
    client.force_login(manager)
    doc = client.get(f"/api/projects/{fx.project.id}/export/coco/").json()
    assert [c["name"] for c in doc["categories"]] == ["podocyte", "endothelial", "mesangial"]
    polygons = coco_polygons(doc, {task.id: (task.min_x, task.min_y)})
    whole = orjson.loads(_stream(client.get(f"/api/projects/{fx.project.id}/export/geojson/")))
    assert len(whole["features"]) == 4
    csv_text = _stream(client.get(f"/api/projects/{fx.project.id}/export/csv/")).decode()
    assert csv_text.count("\n") == 5  # header + 4 rows
    assert polygons == [("podocyte", [[10.0, 10.0], [40.0, 10.0], [40.0, 40.0], [10.0, 40.0], [10.0, 10.0]])]


@pytest.mark.django_db
def test_task_mask_encodes_partial_labels(world, client):
    fx, task, manager, _, _ = world
    client.force_login(manager)
    response = client.get(f"/api/tasks/{task.id}/mask/")
    assert response.status_code == 200, response.content
    legend = orjson.loads(response["X-Laypath-Legend"])
    mask = np.asarray(Image.open(io.BytesIO(response.content)))
    assert mask.shape == (256, 256)
    assert mask[25, 25] == legend["podocyte"] and mask[200, 200] == legend["mesangial"]
    assert mask[250, 5] == legend["negative"]  # exhaustive task: unlabelled is negative
    tiff = client.get(f"/api/tasks/{task.id}/mask/?image=tiff&downsample=2")
    assert tiff.status_code == 200 and tiff["Content-Type"] == "image/tiff"


@pytest.mark.django_db
def test_bad_import_files_get_clear_errors_and_write_nothing(world, client):
    fx, _, manager, _, _ = world
    client.force_login(manager)
    count = Annotation.objects.count()
    bad = client.post(f"/api/pairs/{fx.pair.id}/import/geojson/", data=b"not json", content_type="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_geojson"
    unknown = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [5, 5]},
         "properties": {"classification": {"name": "neutrophil"}}}]}
    refused = client.post(f"/api/pairs/{fx.pair.id}/import/geojson/", data=orjson.dumps(unknown), content_type="application/json")
    assert refused.status_code == 400 and refused.json()["code"] == "unknown_class"
    outside = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [99999, 5]}, "properties": {}}
    geometry = client.post(f"/api/pairs/{fx.pair.id}/import/geojson/", data=orjson.dumps(outside), content_type="application/json")
    assert geometry.status_code == 400 and geometry.json()["code"] == "invalid_geometry"
    assert Annotation.objects.count() == count
    created = client.post(f"/api/pairs/{fx.pair.id}/import/geojson/?create_classes=1", data=orjson.dumps(unknown),
                          content_type="application/json")
    assert created.status_code == 201 and fx.project.label_classes.filter(name="neutrophil").exists()
    Membership.objects.filter(project=fx.project)  # (members untouched)
