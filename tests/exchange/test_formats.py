"""Exchange formats without the database: QuPath GeoJSON, COCO, CSV, label masks."""

from __future__ import annotations

import csv
import io

import numpy as np
import orjson
import pytest

from annotation.exchange.geojson import GeoJSONImportError, parse_features, stream_feature_collection
from annotation.exchange.masks import FIRST_CLASS, NEGATIVE, UNKNOWN, MaskSpec, label_mask
from annotation.exchange.records import LabelRecord
from annotation.exchange.tabular import CocoImage, coco_document, coco_polygons, stream_point_csv

SQUARE = {"type": "Polygon", "coordinates": [[[10, 10], [30, 10], [30, 30], [10, 30], [10, 10]]]}


def _records(n: int) -> list[LabelRecord]:
    out = []
    for i in range(n):
        if i % 2:
            geom = {"type": "Point", "coordinates": [100.0 + i, 200.5]}
        else:
            geom = {"type": "Polygon", "coordinates": [[[i, 0], [i + 5, 0], [i + 5, 5], [i, 5], [i, 0]]]}
        out.append(
            LabelRecord(id=f"id-{i}", geometry=geom, class_name=["podocyte", "endothelial"][i % 2], class_color="#2ecc71",
                        source="model" if i % 3 == 0 else "human", confidence=0.5 if i % 3 == 0 else None,
                        measurements={"area_um2": float(i)})
        )
    return out


def test_geojson_stream_is_valid_featurecollection_and_round_trips():
    records = _records(5001)
    chunks = list(stream_feature_collection(records, chunk_features=1000))
    assert len(chunks) > 3  # streamed, not one blob
    doc = orjson.loads(b"".join(chunks))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 5001
    first = doc["features"][0]["properties"]
    assert first["objectType"] == "detection"  # model cells are QuPath detections
    assert first["classification"] == {"name": "podocyte", "color": [46, 204, 113]}
    back = parse_features(b"".join(chunks))
    assert [(r.id, r.geometry, r.class_name, r.source) for r in back] == [
        (r.id, r.geometry, r.class_name, r.source) for r in records
    ]
    assert back[0].confidence == 0.5 and back[0].measurements == {"area_um2": 0.0}


def test_empty_collection_streams_valid_json():
    assert orjson.loads(b"".join(stream_feature_collection([]))) == {"type": "FeatureCollection", "features": []}


def test_qupath_multipoint_and_legacy_measurements_are_read():
    data = {
        "type": "Feature",
        "id": "abc",
        "geometry": {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]},
        "properties": {"objectType": "annotation", "classification": {"name": "mesangial", "colorRGB": -16711936},
                       "measurements": [{"name": "Area", "value": 3.5}]},
    }
    records = parse_features(data)
    assert [r.geometry for r in records] == [{"type": "Point", "coordinates": [1, 2]}, {"type": "Point", "coordinates": [3, 4]}]
    assert all(r.id == "" for r in records)  # parts of a multi-geometry get new ids
    assert records[0].class_color == "#00ff00" and records[0].measurements == {"Area": 3.5}


@pytest.mark.parametrize("bad", [b"not json", b'{"type": "Nope"}', b'[{"type":"Feature","geometry":{"type":"LineString","coordinates":[]}}]'])
def test_unreadable_geojson_gives_clear_error(bad):
    with pytest.raises(GeoJSONImportError):
        parse_features(bad)


def test_coco_round_trip_keeps_level0_polygons():
    image = CocoImage(id=7, file_name="task-7.png", width=64, height=64, origin_x=1000, origin_y=2000)
    ring = [[1010, 2010], [1030, 2010], [1030, 2030], [1010, 2030], [1010, 2010]]
    rec = LabelRecord(id="p", geometry={"type": "Polygon", "coordinates": [ring]}, class_name="podocyte")
    point = LabelRecord(id="q", geometry={"type": "Point", "coordinates": [1, 1]}, class_name="podocyte")
    doc = coco_document([image], {7: [rec, point]}, ["podocyte", "endothelial"])
    assert len(doc["annotations"]) == 1  # points are not COCO instances
    ann = doc["annotations"][0]
    assert ann["bbox"] == [10, 10, 20, 20] and ann["area"] == 400
    assert coco_polygons(doc, {7: (1000, 2000)}) == [("podocyte", [[float(x), float(y)] for x, y in ring])]


def test_point_csv_has_header_and_centroids():
    text = "".join(stream_point_csv([LabelRecord(id="a", geometry=SQUARE, class_name="podocyte")]))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [{"id": "a", "x": "20.00", "y": "20.00", "class": "podocyte", "source": "human", "status": "none",
                     "author": "", "task": "", "confidence": ""}]


def test_masks_encode_unknown_negative_and_classes():
    recs = [
        LabelRecord(id="a", geometry=SQUARE, class_name="endothelial"),
        LabelRecord(id="b", geometry={"type": "Point", "coordinates": [80, 80]}, class_name="podocyte"),
        LabelRecord(id="c", geometry={"type": "Point", "coordinates": [50, 50]}, class_name="not-asked"),
    ]
    spec = MaskSpec(origin_x=0, origin_y=0, width_px=100, height_px=100, point_radius_px=4)
    names = ["podocyte", "endothelial"]
    sparse = label_mask(recs, spec=spec, class_names=names, exhaustive=False)
    exhaustive = label_mask(recs, spec=spec, class_names=names, exhaustive=True)
    assert sparse[20, 20] == FIRST_CLASS + 1 and sparse[80, 80] == FIRST_CLASS
    assert sparse[50, 50] == UNKNOWN and sparse[0, 99] == UNKNOWN  # unlabelled means unknown in sparse tasks
    assert exhaustive[0, 99] == NEGATIVE  # ... and negative in exhaustive ones
    assert set(np.unique(exhaustive)) == {NEGATIVE, FIRST_CLASS, FIRST_CLASS + 1}
