"""Geometry validation for annotations (pure functions, no Django): GeoJSON Point and Polygon in H&E level-0 px."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from annotation.errors import InvalidGeometry

MAX_VERTICES = 2000
MAX_RINGS = 16
_CHUNK = 256


@dataclass(frozen=True)
class GeometryInfo:
    """A validated geometry with its bounding box and centroid (level-0 px)."""

    geom_type: str
    geometry: dict
    min_x: float
    min_y: float
    max_x: float
    max_y: float
    cx: float
    cy: float


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidGeometry(f"{where}: coordinates must be numbers.")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidGeometry(f"{where}: coordinates must be finite.")
    return number


def _position(value: object, where: str) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise InvalidGeometry(f"{where}: a position is [x, y].")
    return [_number(value[0], where), _number(value[1], where)]


def _check_bounds(points: list[list[float]], width: float | None, height: float | None) -> None:
    if width is None or height is None or width <= 0 or height <= 0:
        return
    if any(x < 0 or y < 0 or x > width or y > height for x, y in points):
        raise InvalidGeometry(f"Geometry lies outside the slide bounds (0..{width:g}, 0..{height:g}).")


def _orient(ax, ay, bx, by, cx, cy):
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


def _on_segment(ax, ay, bx, by, px, py):
    """Whether p (known collinear with a-b) lies within the segment's bounding box."""
    return (
        (np.minimum(ax, bx) <= px) & (px <= np.maximum(ax, bx)) & (np.minimum(ay, by) <= py) & (py <= np.maximum(ay, by))
    )


def ring_self_intersects(ring: np.ndarray) -> bool:
    """Whether a closed ring (first == last) has two non-adjacent edges that touch or cross (O(n^2), vectorised)."""
    a = ring[:-1]
    b = ring[1:]
    n = len(a)
    if n < 4:
        return False
    idx = np.arange(n)
    for start in range(0, n, _CHUNK):
        i = idx[start : start + _CHUNK, None]
        j = idx[None, :]
        # each pair once, skipping the edge itself, its neighbours and the first/last wrap-around pair
        mask = (j > i + 1) & ~((i == 0) & (j == n - 1))
        if not mask.any():
            continue
        ii, jj = np.nonzero(mask)
        ii = ii + start
        ax, ay, bx, by = a[ii, 0], a[ii, 1], b[ii, 0], b[ii, 1]
        cx, cy, dx, dy = a[jj, 0], a[jj, 1], b[jj, 0], b[jj, 1]
        d1 = _orient(ax, ay, bx, by, cx, cy)
        d2 = _orient(ax, ay, bx, by, dx, dy)
        d3 = _orient(cx, cy, dx, dy, ax, ay)
        d4 = _orient(cx, cy, dx, dy, bx, by)
        proper = (d1 * d2 < 0) & (d3 * d4 < 0)
        touch = (
            ((d1 == 0) & _on_segment(ax, ay, bx, by, cx, cy))
            | ((d2 == 0) & _on_segment(ax, ay, bx, by, dx, dy))
            | ((d3 == 0) & _on_segment(cx, cy, dx, dy, ax, ay))
            | ((d4 == 0) & _on_segment(cx, cy, dx, dy, bx, by))
        )
        if np.any(proper | touch):
            return True
    return False


def _ring_self_intersects_small(ring: list[list[float]]) -> bool:
    """The same test as ring_self_intersects in plain Python (faster below a few dozen vertices)."""
    n = len(ring) - 1
    for i in range(n):
        (ax, ay), (bx, by) = ring[i], ring[i + 1]
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue
            (cx, cy), (dx, dy) = ring[j], ring[j + 1]
            d1 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
            d2 = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax)
            d3 = (dx - cx) * (ay - cy) - (dy - cy) * (ax - cx)
            d4 = (dx - cx) * (by - cy) - (dy - cy) * (bx - cx)
            if d1 * d2 < 0 and d3 * d4 < 0:
                return True
            if d1 and d2 and d3 and d4:  # no collinear endpoint: nothing can touch
                continue
            for d, (px, py), (sx, sy), (tx, ty) in (
                (d1, (cx, cy), (ax, ay), (bx, by)),
                (d2, (dx, dy), (ax, ay), (bx, by)),
                (d3, (ax, ay), (cx, cy), (dx, dy)),
                (d4, (bx, by), (cx, cy), (dx, dy)),
            ):
                if d == 0 and min(sx, tx) <= px <= max(sx, tx) and min(sy, ty) <= py <= max(sy, ty):
                    return True
    return False


def _ring_area_centroid(ring: list[list[float]]) -> tuple[float, float, float]:
    area2 = sx = sy = 0.0
    for (x, y), (x1, y1) in zip(ring[:-1], ring[1:]):
        cross = x * y1 - x1 * y
        area2 += cross
        sx += (x + x1) * cross
        sy += (y + y1) * cross
    if area2 == 0:
        n = len(ring) - 1
        return 0.0, sum(p[0] for p in ring[:-1]) / n, sum(p[1] for p in ring[:-1]) / n
    return area2 / 2.0, sx / (3.0 * area2), sy / (3.0 * area2)


SMALL_RING = 48


def _validate_ring(raw: object, where: str, budget: int) -> list[list[float]]:
    if not isinstance(raw, list):
        raise InvalidGeometry(f"{where}: a ring is a list of positions.")
    if len(raw) > budget:
        raise InvalidGeometry(f"Polygon has more than {MAX_VERTICES} vertices.")
    if len(raw) < 4:
        raise InvalidGeometry(f"{where}: a ring needs at least 4 positions (3 distinct and the closing one).")
    ring = [_position(p, where) for p in raw]
    if ring[0] != ring[-1]:
        raise InvalidGeometry(f"{where}: the ring is not closed (the last position must equal the first).")
    if any(a == b for a, b in zip(ring[:-1], ring[1:])):
        raise InvalidGeometry(f"{where}: the ring repeats a vertex.")
    simple = _ring_self_intersects_small(ring) if len(ring) <= SMALL_RING else ring_self_intersects(np.array(ring))
    if simple:
        raise InvalidGeometry(f"{where}: the ring intersects itself.")
    area, _, _ = _ring_area_centroid(ring)
    if area == 0:
        raise InvalidGeometry(f"{where}: the ring has no area.")
    return ring


def _polygon(coordinates: object, width: float | None, height: float | None) -> GeometryInfo:
    if not isinstance(coordinates, list) or not coordinates:
        raise InvalidGeometry("Polygon coordinates must be a non-empty list of rings.")
    if len(coordinates) > MAX_RINGS:
        raise InvalidGeometry(f"Polygon has more than {MAX_RINGS} rings.")
    rings: list[list[list[float]]] = []
    budget = MAX_VERTICES
    for k, raw in enumerate(coordinates):
        ring = _validate_ring(raw, "outer ring" if k == 0 else f"hole {k}", budget)
        budget -= len(ring)
        rings.append(ring)
    xs = [p[0] for p in rings[0]]
    ys = [p[1] for p in rings[0]]
    _check_bounds([p for ring in rings for p in ring], width, height)
    _, cx, cy = _ring_area_centroid(rings[0])
    return GeometryInfo("Polygon", {"type": "Polygon", "coordinates": rings}, min(xs), min(ys), max(xs), max(ys), cx, cy)


def validate_geometry(geometry: object, *, width: float | None = None, height: float | None = None) -> GeometryInfo:
    """Check a GeoJSON Point or Polygon (finite, closed, simple, within the slide) and measure it."""
    if not isinstance(geometry, dict):
        raise InvalidGeometry("Geometry must be a GeoJSON object.")
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Point":
        x, y = _position(coordinates, "Point")
        _check_bounds([[x, y]], width, height)
        return GeometryInfo("Point", {"type": "Point", "coordinates": [x, y]}, x, y, x, y, x, y)
    if kind == "Polygon":
        return _polygon(coordinates, width, height)
    raise InvalidGeometry(f"Geometry type {kind!r} is not supported; use Point or Polygon.")


def box_polygon(min_x: float, min_y: float, max_x: float, max_y: float) -> dict:
    """A GeoJSON Polygon for an axis-aligned box."""
    return {
        "type": "Polygon",
        "coordinates": [[[min_x, min_y], [max_x, min_y], [max_x, max_y], [min_x, max_y], [min_x, min_y]]],
    }
