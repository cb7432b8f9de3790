from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import openslide

from annotation.imaging.deepzoom import DeepZoomGeometry, geometry_for
from annotation.imaging.rawtiles import decode_jpeg_rgb
from annotation.imaging.readers import open_slide
from annotation.imaging.render import ChannelSetting, RenderSettings, composite
from annotation.imaging.tiles import read_scaled, render_tile


def test_interior_tiles_of_coinciding_levels_pass_through_and_decode_like_rendered_tiles(generic_tiff: Path) -> None:
    with open_slide(generic_tiff) as reader:
        geometry = geometry_for(reader.info)
        for level in (geometry.max_level, geometry.max_level - 1):
            tile = render_tile(reader, geometry, level, 1, 0)
            assert tile.passthrough and tile.content_type == "image/jpeg"
            rect = geometry.tile_rect(level, 1, 0)
            rendered = read_scaled(reader, rect, geometry.level_scale(level))
            decoded = decode_jpeg_rgb(tile.data)
            assert decoded.shape == rendered.shape
            assert np.abs(decoded.astype(int) - rendered).mean() < 1.0  # same JPEG data, same decoder family


def test_edge_tiles_are_decoded_and_cropped_not_passed_through(generic_tiff: Path) -> None:
    with open_slide(generic_tiff) as reader:
        geometry = geometry_for(reader.info)
        cols, rows = geometry.tile_counts(geometry.max_level)
        tile = render_tile(reader, geometry, geometry.max_level, cols - 1, rows - 1)
        assert not tile.passthrough
        decoded = decode_jpeg_rgb(tile.data)
        assert decoded.shape == (1000 - 3 * 256, 1300 - 5 * 256, 3)


def test_levels_between_file_levels_are_resampled_from_the_finer_level(generic_tiff: Path) -> None:
    with open_slide(generic_tiff) as reader:
        geometry = geometry_for(reader.info)
        level = geometry.max_level - 3  # 8x: below the coarsest (4x) file level
        tile = render_tile(reader, geometry, level, 0, 0)
        assert not tile.passthrough
        decoded = decode_jpeg_rgb(tile.data)
        assert decoded.shape == (125, 163, 3)
        full = reader.read_region(0, 0, 0, 1300, 1000)
        expected = cv2.resize(full, (163, 125), interpolation=cv2.INTER_AREA)
        assert np.abs(decoded.astype(int) - expected).mean() < 6


def test_aperio_passthrough_bytes_decode_to_openslide_pixels(aperio_svs: Path) -> None:
    with open_slide(aperio_svs) as reader:
        geometry = geometry_for(reader.info)
        assert geometry.tile_size == 240
        tile = render_tile(reader, geometry, geometry.max_level, 3, 4)
        assert tile.passthrough
    slide = openslide.OpenSlide(aperio_svs)
    expected = np.asarray(slide.read_region((3 * 240, 4 * 240), 0, (240, 240)))[..., :3]
    assert np.abs(decode_jpeg_rgb(tile.data).astype(int) - expected).mean() < 1.0


def test_png_tiles_are_lossless_renders(generic_tiff: Path) -> None:
    with open_slide(generic_tiff) as reader:
        geometry = DeepZoomGeometry(1300, 1000, 254, 1)
        tile = render_tile(reader, geometry, geometry.max_level, 2, 1, fmt="png")
        rect = geometry.tile_rect(geometry.max_level, 2, 1)
        expected = reader.read_region(0, rect.x, rect.y, rect.w, rect.h)
    assert tile.content_type == "image/png" and not tile.passthrough
    np.testing.assert_array_equal(decode_jpeg_rgb(tile.data), expected)


def test_fluorescence_tiles_composite_with_given_or_default_settings(ome16: Path) -> None:
    with open_slide(ome16) as reader:
        geometry = geometry_for(reader.info)
        level = geometry.max_level - 1
        settings = RenderSettings.of([ChannelSetting(1, "00ff00", 10000, 50000)])
        tile = render_tile(reader, geometry, level, 0, 0, fmt="png", settings=settings)
        rect = geometry.tile_rect(level, 0, 0)
        expected = composite(reader.read_region(1, rect.x, rect.y, rect.w, rect.h), settings)
        np.testing.assert_array_equal(decode_jpeg_rgb(tile.data), expected)
        default = decode_jpeg_rgb(render_tile(reader, geometry, level, 0, 0, fmt="png").data)
        assert default[..., 2].max() > 0  # DAPI shows blue by default


def test_tiles_coarser_than_a_stored_level_decode_at_reduced_scale(generic_tiff: Path) -> None:
    from annotation.imaging.tiles import reduced_from_stored

    with open_slide(generic_tiff) as reader:
        geometry = geometry_for(reader.info)
        level = geometry.max_level - 2  # its file level (325 x 250) is smaller than one tile: no stored tile
        rect = geometry.tile_rect(level, 0, 0)
        bgr = reduced_from_stored(reader, geometry.level_scale(level), rect)
        assert bgr is not None and bgr.shape == (250, 256, 3)
        expected = read_scaled(reader, rect, geometry.level_scale(level))
        assert np.abs(bgr[..., ::-1].astype(int) - expected).mean() < 4
        outside = type(rect)(200, 0, 256, 250)  # reaches past the stored level: general path
        assert reduced_from_stored(reader, geometry.level_scale(level), outside) is None
        tile = render_tile(reader, geometry, level, 0, 0)
        assert np.abs(decode_jpeg_rgb(tile.data).astype(int) - expected).mean() < 5


def test_rgb_ome_tiff_is_brightfield_and_its_jpeg_tiles_pass_through(tmp_path: Path) -> None:
    import tifffile

    from tests.imaging.conftest import smooth_rgb

    rgb = smooth_rgb(600, 700, seed=3)
    path = tmp_path / "he.ome.tif"
    with tifffile.TiffWriter(path, bigtiff=True) as tw:
        tw.write(rgb, subifds=1, tile=(256, 256), compression="jpeg", photometric="rgb", metadata={"axes": "YXS"})
        tw.write(np.ascontiguousarray(rgb[::2, ::2]), subfiletype=1, tile=(256, 256), compression="jpeg", photometric="rgb")
    with open_slide(path) as reader:
        assert reader.info.format == "ome-tiff" and reader.info.kind == "brightfield"
        assert reader.info.level_dimensions == ((700, 600), (350, 300))
        geometry = geometry_for(reader.info)
        tile = render_tile(reader, geometry, geometry.max_level, 1, 1)
        assert tile.passthrough
        assert np.abs(decode_jpeg_rgb(tile.data).astype(int) - rgb[256:512, 256:512]).mean() < 4


def test_many_channel_fluorescence_renders_at_every_level_with_odd_pyramid_sizes(tmp_path: Path) -> None:
    from tests.imaging.conftest import smooth_channels, write_ome

    data = smooth_channels(777, 1001, 6)  # ceil-halved levels: downsamples are not exact powers of two
    path = write_ome(tmp_path / "six.ome.tif", data, [f"M{i}" for i in range(6)], levels=3)
    with open_slide(path) as reader:
        geometry = geometry_for(reader.info)
        everything = RenderSettings.of([ChannelSetting(i, "ffffff", 0, 65535) for i in range(6)])
        two = RenderSettings.of([ChannelSetting(1, "ff0000", 0, 65535), ChannelSetting(4, "00ff00", 0, 65535)])
        for level in range(geometry.level_count):
            for settings in (everything, two, None):
                tile = render_tile(reader, geometry, level, 0, 0, fmt="png", settings=settings)
                rect = geometry.tile_rect(level, 0, 0)
                assert decode_jpeg_rgb(tile.data).shape == (rect.h, rect.w, 3)
        rect = geometry.tile_rect(geometry.max_level - 3, 0, 0)
        got = read_scaled(reader, rect, 8, (1, 4))
        padded = np.zeros((rect.h * 8, rect.w * 8, 2), dtype=np.float64)  # DZI levels round sizes up
        padded[:777, :1001] = np.moveaxis(data[[1, 4]], 0, 2)
        expected = cv2.resize(padded, (rect.w, rect.h), interpolation=cv2.INTER_AREA)
        error = np.abs(got[..., [1, 4]].astype(float) - expected)[:-1, :-1]  # last row/col: partial pixels
        assert error.mean() < 0.01 * 65535
        assert (got[..., [0, 2, 3, 5]] == 0).all()
