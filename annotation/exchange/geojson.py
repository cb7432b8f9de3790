"""GeoJSON as QuPath reads and writes it: a FeatureCollection whose features carry `objectType`,
`classification` {name, color [r,g,b]} and `measurements`; exported as a stream of byte chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import orjson

from annotation.exchange.records import LabelRecord, hex_to_rgb, rgb_to_hex

# Human outlines are QuPath "annotation" objects; model/consensus cells are "detection" objects.
DETECTION_SOURCES = {"model", "consensus"}


class GeoJSONImportError(ValueError):
    """The file is not GeoJSON this importer understands."""


def feature_for(record: LabelRecord) -> dict:
    """One QuPath-style Feature for a record."""
    props: dict = {
        "objectType": "detection" if record.source in DETECTION_SOURCES else "annotation",
        "isLocked": False,
    }
    if record.class_name:
        classification: dict = {"name": record.class_name}
        rgb = hex_to_rgb(record.class_color)
        if rgb:
            classification["color"] = rgb
        props["classification"] = classification
    measurements = dict(record.measurements)
    if record.confidence is not None:
        measurements.setdefault("confidence", record.confidence)
    if measurements:
        props["measurements"] = measurements
    props["laypath"] = {"source": record.source, "status": record.status, "author": record.author, "task": record.task_id}
    return {"type": "Feature", "id": record.id, "geometry": record.geometry, "properties": props}


def stream_feature_collection(records: Iterable[LabelRecord], *, chunk_features: int = 2000) -> Iterator[bytes]:
    """Yield a FeatureCollection as byte chunks without holding all features in memory."""
    yield b'{"type":"FeatureCollection","features":['
    buffer: list[bytes] = []
    first = True
    for record in records:
        buffer.append(orjson.dumps(feature_for(record)))
        if len(buffer) >= chunk_features:
            yield (b"" if first else b",") + b",".join(buffer)
            first = False
            buffer = []
    if buffer:
        yield (b"" if first else b",") + b",".join(buffer)
    yield b"]}"


def _features(data) -> list[dict]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if data.get("type") == "FeatureCollection":
            return list(data.get("features") or [])
        if data.get("type") == "Feature":
            return [data]
        if data.get("type") in {"Point", "MultiPoint", "Polygon", "MultiPolygon"}:
            return [{"type": "Feature", "geometry": data, "properties": {}}]
    raise GeoJSONImportError("Expected a GeoJSON FeatureCollection, a Feature or a list of Features.")


def _split_geometry(geometry: dict) -> list[dict]:
    """QuPath writes points as MultiPoint and may write MultiPolygons: split them into simple shapes."""
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if kind in {"Point", "Polygon"}:
        return [{"type": kind, "coordinates": coords}]
    if kind == "MultiPoint":
        return [{"type": "Point", "coordinates": c} for c in coords or []]
    if kind == "MultiPolygon":
        return [{"type": "Polygon", "coordinates": c} for c in coords or []]
    raise GeoJSONImportError(f"Unsupported geometry type {kind!r}; Point, MultiPoint, Polygon, MultiPolygon are read.")


def _measurements(props: dict) -> dict:
    raw = props.get("measurements")
    if isinstance(raw, dict):
        return {str(k): v for k, v in raw.items() if isinstance(v, int | float | str | bool) or v is None}
    if isinstance(raw, list):  # QuPath 0.2 wrote [{"name": ..., "value": ...}]
        return {str(m.get("name")): m.get("value") for m in raw if isinstance(m, dict) and "name" in m}
    return {}


def parse_features(data: bytes | str | dict | list) -> list[LabelRecord]:
    """Parse QuPath GeoJSON into records (ids kept when they are present)."""
    if isinstance(data, bytes | str):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise GeoJSONImportError(f"Not valid JSON: {exc}") from exc
    out: list[LabelRecord] = []
    for index, feature in enumerate(_features(data)):
        if not isinstance(feature, dict):
            raise GeoJSONImportError(f"Feature {index} is not an object.")
        props = feature.get("properties") or {}
        classification = props.get("classification") or {}
        name = classification.get("name") if isinstance(classification, dict) else None
        color = rgb_to_hex(classification.get("color") or classification.get("colorRGB")) if isinstance(classification, dict) else None
        extra = props.get("laypath") or {}
        source = extra.get("source") or ("model" if props.get("objectType") == "detection" else "human")
        measurements = _measurements(props)
        confidence = measurements.pop("confidence", None)
        parts = _split_geometry(feature.get("geometry") or {})
        fid = feature.get("id")
        # a simple feature keeps its id; the parts of a multi-geometry get fresh ids
        record_id = str(fid) if fid and len(parts) == 1 else ""
        for geometry in parts:
            out.append(
                LabelRecord(
                    id=record_id,
                    geometry=geometry,
                    class_name=name,
                    class_color=color,
                    source=source if source in {"human", "model", "consensus", "review"} else "human",
                    status=str(extra.get("status") or "none"),
                    confidence=float(confidence) if isinstance(confidence, int | float) else None,
                    measurements=measurements,
                )
            )
    return out
