"""COCO instance export (polygons) and the point CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from annotation.exchange.records import LabelRecord


@dataclass(frozen=True)
class CocoImage:
    """A COCO image: a task region (or a whole slide) whose top-left is (origin_x, origin_y) in level-0 px."""

    id: int
    file_name: str
    width: int
    height: int
    origin_x: float = 0.0
    origin_y: float = 0.0


def polygon_area(ring: list[list[float]]) -> float:
    """Shoelace area of a ring (closed or open)."""
    n = len(ring)
    total = 0.0
    for i in range(n):
        x1, y1 = ring[i][0], ring[i][1]
        x2, y2 = ring[(i + 1) % n][0], ring[(i + 1) % n][1]
        total += x1 * y2 - x2 * y1
    return abs(total) / 2.0


def coco_document(
    images: list[CocoImage], records_by_image: dict[int, list[LabelRecord]], class_names: list[str]
) -> dict:
    """A COCO instances document: polygons become segmentations relative to their image's origin."""
    categories = [{"id": i + 1, "name": name, "supercategory": "cell"} for i, name in enumerate(class_names)]
    category_ids = {name: i + 1 for i, name in enumerate(class_names)}
    annotations = []
    next_id = 1
    for image in images:
        for record in records_by_image.get(image.id, []):
            if record.geometry.get("type") != "Polygon" or record.class_name not in category_ids:
                continue
            ring = record.geometry["coordinates"][0]
            local = [[x - image.origin_x, y - image.origin_y] for x, y in ring]
            xs = [p[0] for p in local]
            ys = [p[1] for p in local]
            annotations.append(
                {
                    "id": next_id,
                    "image_id": image.id,
                    "category_id": category_ids[record.class_name],
                    "segmentation": [[round(v, 2) for p in local for v in p]],
                    "area": round(polygon_area(local), 2),
                    "bbox": [round(min(xs), 2), round(min(ys), 2), round(max(xs) - min(xs), 2), round(max(ys) - min(ys), 2)],
                    "iscrowd": 0,
                    "laypath_id": record.id,
                }
            )
            next_id += 1
    return {
        "info": {"description": "Laypath export", "version": "1.0"},
        "images": [{"id": i.id, "file_name": i.file_name, "width": i.width, "height": i.height} for i in images],
        "annotations": annotations,
        "categories": categories,
    }


def coco_polygons(document: dict, image_origins: dict[int, tuple[float, float]]) -> list[tuple[str, list[list[float]]]]:
    """Read back (category name, level-0 ring) pairs from a COCO document (for round trips)."""
    names = {c["id"]: c["name"] for c in document.get("categories", [])}
    out = []
    for ann in document.get("annotations", []):
        ox, oy = image_origins.get(ann["image_id"], (0.0, 0.0))
        flat = ann["segmentation"][0]
        ring = [[flat[i] + ox, flat[i + 1] + oy] for i in range(0, len(flat), 2)]
        out.append((names.get(ann["category_id"], ""), ring))
    return out


CSV_COLUMNS = ["id", "x", "y", "class", "source", "status", "author", "task", "confidence"]


def centroid(geometry: dict) -> tuple[float, float]:
    if geometry["type"] == "Point":
        x, y = geometry["coordinates"][:2]
        return float(x), float(y)
    ring = geometry["coordinates"][0]
    pts = ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring
    return sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)


def stream_point_csv(records: Iterable[LabelRecord]) -> Iterator[str]:
    """Yield CSV lines: one row per annotation at its centre (points as they are)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for record in records:
        buffer.seek(0)
        buffer.truncate()
        x, y = centroid(record.geometry)
        writer.writerow(
            [record.id, f"{x:.2f}", f"{y:.2f}", record.class_name or "", record.source, record.status,
             record.author or "", record.task_id or "", "" if record.confidence is None else f"{record.confidence:.4f}"]
        )
        yield buffer.getvalue()
