from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from annotation.imaging.deepzoom import DeepZoomGeometry
from annotation.imaging.overlay import overlay_pixels, render_overlay_tile
from annotation.imaging.rawtiles import decode_jpeg_rgb
from annotation.imaging.readers import open_slide
from annotation.imaging.render import ChannelSetting, RenderSettings
from annotation.imaging.tiles import render_tile
from annotation.imaging.transform import DisplacementGrid, SlideTransform
from tests.imaging.conftest import smooth_channels


def known_transform() -> SlideTransform:
    theta, scale = np.deg2rad(3.0), 1.02
    affine = np.array(
        [[scale * np.cos(theta), -scale * np.sin(theta), 40.3], [scale * np.sin(theta), scale * np.cos(theta), -7.7]]
    )
    gy, gx = np.mgrid[0:5, 0:5]
    grid = DisplacementGrid(
        step_px=200.0, dx=(3 * np.sin(gx / 2.0)).astype(np.float32), dy=(2 * np.cos(gy / 1.7)).astype(np.float32)
    )
    return SlideTransform.from_matrix(affine, grid)


@pytest.mark.parametrize(("x0", "y0"), [(256, 256), (0, 0), (512, 256)])
def test_overlay_samples_the_if_at_transformed_positions_to_subpixel_accuracy(ome16: Path, x0: int, y0: int) -> None:
    transform = known_transform()
    channel = smooth_channels(700, 900, 3)[0].astype(np.float64)
    with open_slide(ome16) as reader:
        out, covered = overlay_pixels(reader, transform, x0, y0, 1.0, 256, 256)
    ys, xs = np.mgrid[y0 : y0 + 256, x0 : x0 + 256].astype(np.float64)
    qx, qy = transform.map_grid(xs, ys)
    inside = (qx >= 0) & (qx <= 899) & (qy >= 0) & (qy <= 699)
    assert covered[inside].all() and inside.mean() > 0.5
    expected = map_coordinates(channel, [qy, qx], order=1)
    error = np.abs(out[..., 0].astype(np.float64) - expected)[inside]
    shifted = map_coordinates(channel, [qy, qx + 0.25], order=1)
    quarter_px_error = np.abs(shifted - expected)[inside]
    assert error.max() < 0.25 * quarter_px_error.max()
    assert error.mean() < 0.1 * quarter_px_error.mean()
    assert (out[~covered] == 0).all()


def test_overlay_at_coarser_levels_reads_a_matching_if_pyramid_level(ome16: Path) -> None:
    transform = known_transform()
    channel = smooth_channels(700, 900, 3)[0].astype(np.float64)
    with open_slide(ome16) as reader:
        out, covered = overlay_pixels(reader, transform, 64, 64, 2.0, 128, 128)
    ys, xs = np.mgrid[64:192, 64:192].astype(np.float64)
    qx, qy = transform.map_grid((xs + 0.5) * 2 - 0.5, (ys + 0.5) * 2 - 0.5)
    expected = map_coordinates(channel, [qy, qx], order=1)
    error = np.abs(out[..., 0].astype(np.float64) - expected)[covered]
    assert error.mean() < 0.01 * 65535  # level-1 data is a 2x subsample of the smooth field


def test_identity_overlay_equals_the_fluorescence_tile(ome16: Path) -> None:
    settings = RenderSettings.of([ChannelSetting(0, "0000ff", 0, 65535), ChannelSetting(2, "ff0000", 0, 65535)])
    with open_slide(ome16) as reader:
        geometry = DeepZoomGeometry(900, 700, 256, 0)
        own = render_tile(reader, geometry, geometry.max_level, 1, 1, "png", settings)
        overlay = render_overlay_tile(geometry, reader, SlideTransform.identity(), geometry.max_level, 1, 1, "png", settings)
    own_rgb, overlay_rgba = decode_jpeg_rgb(own.data), decode_jpeg_rgb(overlay.data)
    assert np.abs(own_rgb.astype(int) - overlay_rgba).max() <= 1


def test_png_overlay_is_transparent_where_the_if_has_no_data(ome16: Path) -> None:
    import cv2

    shifted = SlideTransform.from_matrix(np.array([[1.0, 0.0, 800.0], [0.0, 1.0, 0.0]]))
    with open_slide(ome16) as reader:
        geometry = DeepZoomGeometry(900, 700, 256, 0)
        tile = render_overlay_tile(geometry, reader, shifted, geometry.max_level, 0, 0, "png")
    rgba = cv2.imdecode(np.frombuffer(tile.data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (256, 256, 4)
    assert (rgba[:, :90, 3] == 255).all() and (rgba[:, 110:, 3] == 0).all()


def test_rendered_overlay_tile_shows_the_rendered_if_at_transformed_positions(ome16: Path) -> None:
    import cv2

    from annotation.imaging.render import composite

    transform = known_transform()
    settings = RenderSettings.of([ChannelSetting(0, "00ff00", 3000, 62000), ChannelSetting(1, "ff00ff", 3000, 62000)])
    with open_slide(ome16) as reader:
        geometry = DeepZoomGeometry(1024, 1024, 256, 0)
        tile = render_overlay_tile(geometry, reader, transform, geometry.max_level, 1, 1, "png", settings)
        full = composite(reader.read_region(0, 0, 0, 900, 700), settings).astype(np.float64)
    rgba = cv2.cvtColor(cv2.imdecode(np.frombuffer(tile.data, np.uint8), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
    ys, xs = np.mgrid[256:512, 256:512].astype(np.float64)
    qx, qy = transform.map_grid(xs, ys)
    inside = (qx >= 1) & (qx <= 898) & (qy >= 1) & (qy <= 698)
    for k in range(3):
        expected = map_coordinates(full[..., k], [qy, qx], order=1)
        assert np.abs(rgba[..., k][inside] - expected[inside]).max() <= 2
    assert (rgba[..., 3][inside] == 255).all()
