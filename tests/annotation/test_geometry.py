import math

import pytest

from annotation.errors import InvalidGeometry
from annotation.geometry import MAX_VERTICES, ring_self_intersects, validate_geometry


def test_point_is_measured():
    info = validate_geometry({"type": "Point", "coordinates": [3, 4]}, width=10, height=10)
    assert (info.geom_type, info.min_x, info.max_y, info.cx, info.cy) == ("Point", 3.0, 4.0, 3.0, 4.0)


def test_square_polygon_has_bbox_and_area_centroid():
    ring = [[0, 0], [4, 0], [4, 2], [0, 2], [0, 0]]
    info = validate_geometry({"type": "Polygon", "coordinates": [ring]})
    assert (info.min_x, info.min_y, info.max_x, info.max_y) == (0, 0, 4, 2)
    assert info.cx == pytest.approx(2.0) and info.cy == pytest.approx(1.0)


@pytest.mark.parametrize(
    "geometry, message",
    [
        ({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, "not supported"),
        ({"type": "Point", "coordinates": [math.nan, 1]}, "finite"),
        ({"type": "Point", "coordinates": ["1", 1]}, "numbers"),
        ({"type": "Point", "coordinates": [1]}, "[x, y]"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "not closed"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "at least 4"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}, "intersects itself"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [2, 0], [0, 0]]]}, "no area"),
        ({"type": "Polygon", "coordinates": []}, "non-empty"),
        ("not a dict", "GeoJSON object"),
    ],
)
def test_invalid_geometries_are_refused_with_a_clear_message(geometry, message):
    with pytest.raises(InvalidGeometry) as caught:
        validate_geometry(geometry)
    assert message in str(caught.value)
    assert caught.value.code == "invalid_geometry"


def test_geometry_outside_the_slide_is_refused():
    with pytest.raises(InvalidGeometry, match="outside the slide"):
        validate_geometry({"type": "Point", "coordinates": [11, 5]}, width=10, height=10)
    with pytest.raises(InvalidGeometry, match="outside the slide"):
        validate_geometry({"type": "Polygon", "coordinates": [[[-1, 0], [2, 0], [2, 2], [-1, 0]]]}, width=10, height=10)


def test_vertex_limit_is_enforced():
    n = MAX_VERTICES + 5
    ring = [[1000 + 500 * math.cos(2 * math.pi * k / n), 1000 + 500 * math.sin(2 * math.pi * k / n)] for k in range(n)]
    ring.append(ring[0])
    with pytest.raises(InvalidGeometry, match="more than"):
        validate_geometry({"type": "Polygon", "coordinates": [ring]})


def test_large_convex_ring_is_simple_and_a_bowtie_is_not():
    import numpy as np

    n = 1500
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 100
    ring = np.vstack([ring, ring[:1]])
    assert not ring_self_intersects(ring)
    ring[700] = ring[10] * 1.5  # a spike that crosses the far side
    ring[701] = -ring[10] * 1.5
    assert ring_self_intersects(ring)


def test_ring_touching_itself_at_a_vertex_is_refused():
    ring = [[0, 0], [4, 0], [2, 2], [4, 4], [0, 4], [2, 2], [0, 0]]
    with pytest.raises(InvalidGeometry):
        validate_geometry({"type": "Polygon", "coordinates": [ring]})


def test_small_ring_check_agrees_with_the_vectorised_one():
    import random

    import numpy as np

    from annotation.geometry import _ring_self_intersects_small

    rng = random.Random(3)
    for _ in range(300):
        n = rng.randint(3, 9)
        ring = [[float(rng.randint(0, 6)), float(rng.randint(0, 6))] for _ in range(n)]
        ring.append(ring[0])
        assert _ring_self_intersects_small(ring) == ring_self_intersects(np.array(ring))
