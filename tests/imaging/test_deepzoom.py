from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import openslide
import pytest
from openslide.deepzoom import DeepZoomGenerator

from annotation.imaging.deepzoom import DZI_NAMESPACE, DeepZoomGeometry, coinciding_file_level, geometry_for
from annotation.imaging.errors import TileNotFound
from annotation.imaging.readers import open_slide


@pytest.mark.parametrize(("tile", "overlap"), [(254, 1), (256, 0), (240, 0), (512, 2)])
def test_levels_and_tiles_match_openslide_deepzoom(generic_tiff: Path, tile: int, overlap: int) -> None:
    slide = openslide.OpenSlide(generic_tiff)
    reference = DeepZoomGenerator(slide, tile_size=tile, overlap=overlap, limit_bounds=False)
    w, h = slide.dimensions
    ours = DeepZoomGeometry(w, h, tile, overlap)
    assert ours.level_count == reference.level_count
    for level in range(ours.level_count):
        assert ours.level_dimensions(level) == reference.level_dimensions[level]
        assert ours.tile_counts(level) == reference.level_tiles[level]
        cols, rows = ours.tile_counts(level)
        for col, row in {(0, 0), (cols - 1, rows - 1), (cols // 2, rows // 2)}:
            rect = ours.tile_rect(level, col, row)
            assert (rect.w, rect.h) == reference.get_tile_dimensions(level, (col, row))


@pytest.mark.parametrize(("w", "h"), [(1, 1), (2, 1), (255, 3), (256, 256), (257, 100), (40000, 40000), (46000, 32914)])
def test_level_count_is_ceil_log2_of_the_longer_side_plus_one(w: int, h: int) -> None:
    geometry = DeepZoomGeometry(w, h)
    n = max(w, h)
    expected = 1
    while n > 1:
        n = (n + 1) // 2
        expected += 1
    assert geometry.level_count == expected
    assert geometry.level_dimensions(0) == (1, 1)
    assert geometry.level_dimensions(geometry.max_level) == (w, h)


def test_out_of_range_level_col_row_raise_tile_not_found() -> None:
    geometry = DeepZoomGeometry(1000, 600, 256, 0)
    cols, rows = geometry.tile_counts(geometry.max_level)
    for level, col, row in [(-1, 0, 0), (geometry.max_level + 1, 0, 0), (geometry.max_level, cols, 0), (5, 0, 99)]:
        with pytest.raises(TileNotFound):
            geometry.tile_rect(level, col, row)


def test_dzi_descriptor_has_the_fields_openseadragon_reads() -> None:
    root = ET.fromstring(DeepZoomGeometry(1300, 1000, 254, 1, "png").dzi_xml())
    assert root.tag == f"{{{DZI_NAMESPACE}}}Image"
    assert root.attrib == {"Format": "png", "Overlap": "1", "TileSize": "254"}
    size = root.find(f"{{{DZI_NAMESPACE}}}Size")
    assert size is not None and size.attrib == {"Width": "1300", "Height": "1000"}


def test_served_geometry_uses_the_file_tile_grid_and_finds_coinciding_levels(generic_tiff: Path) -> None:
    with open_slide(generic_tiff) as reader:
        geometry = geometry_for(reader.info)
        assert (geometry.tile_size, geometry.overlap) == (256, 0)
        top = geometry.max_level
        assert coinciding_file_level(reader.info, geometry, top) == 0
        assert coinciding_file_level(reader.info, geometry, top - 1) == 1
        assert coinciding_file_level(reader.info, geometry, top - 2) == 2
        assert coinciding_file_level(reader.info, geometry, top - 3) is None
