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


def _check_bounds(points: np.ndarray, width: float | None, height: float | None) -> None:
    if width is None or height is None or width <= 0 or height <= 0:
        return
    if points[:, 0].min() < 0 or points[:, 1].min() < 0 or points[:, 0].max() > width or points[:, 1].max() > height:
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


def _ring_area_centroid(ring: np.ndarray) -> tuple[float, float, float]:
    x, y = ring[:-1, 0], ring[:-1, 1]
    x1, y1 = ring[1:, 0], ring[1:, 1]
    cross = x * y1 - x1 * y
    area = cross.sum() / 2.0
    if area == 0:
        return 0.0, float(x.mean()), float(y.mean())
    cx = ((x + x1) * cross).sum() / (6.0 * area)
    cy = ((y + y1) * cross).sum() / (6.0 * area)
    return float(area), float(cx), float(cy)


def _validate_ring(raw: object, where: str, budget: int) -> np.ndarray:
    if not isinstance(raw, list):
        raise InvalidGeometry(f"{where}: a ring is a list of positions.")
    if len(raw) > budget:
        raise InvalidGeometry(f"Polygon has more than {MAX_VERTICES} vertices.")
    if len(raw) < 4:
        raise InvalidGeometry(f"{where}: a ring needs at least 4 positions (3 distinct and the closing one).")
    ring = np.array([_position(p, where) for p in raw], dtype=np.float64)
    if not np.array_equal(ring[0], ring[-1]):
        raise InvalidGeometry(f"{where}: the ring is not closed (the last position must equal the first).")
    if np.any(np.all(ring[1:] == ring[:-1], axis=1)):
        raise InvalidGeometry(f"{where}: the ring repeats a vertex.")
    if ring_self_intersects(ring):
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
    rings: list[np.ndarray] = []
    budget = MAX_VERTICES
    for k, raw in enumerate(coordinates):
        ring = _validate_ring(raw, "outer ring" if k == 0 else f"hole {k}", budget)
        budget -= len(ring)
        rings.append(ring)
    outer = rings[0]
    _check_bounds(np.concatenate(rings), width, height)
    _, cx, cy = _ring_area_centroid(outer)
    geometry = {"type": "Polygon", "coordinates": [ring.tolist() for ring in rings]}
    return GeometryInfo(
        geom_type="Polygon",
        geometry=geometry,
        min_x=float(outer[:, 0].min()),
        min_y=float(outer[:, 1].min()),
        max_x=float(outer[:, 0].max()),
        max_y=float(outer[:, 1].max()),
        cx=cx,
        cy=cy,
    )


def validate_geometry(geometry: object, *, width: float | None = None, height: float | None = None) -> GeometryInfo:
    """Check a GeoJSON Point or Polygon (finite, closed, simple, within the slide) and measure it."""
    if not isinstance(geometry, dict):
        raise InvalidGeometry("Geometry must be a GeoJSON object.")
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Point":
        x, y = _position(coordinates, "Point")
        _check_bounds(np.array([[x, y]]), width, height)
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
