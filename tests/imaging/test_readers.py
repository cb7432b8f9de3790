from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from annotation.imaging.errors import SlideReadError
from annotation.imaging.info import BRIGHTFIELD, FLUORESCENCE, colour_for_channel
from annotation.imaging.readers import open_slide
from annotation.imaging.sniff import fast_checksum, full_checksum
from tests.imaging.conftest import smooth_channels, smooth_rgb


def test_generic_tiled_tiff_opens_through_openslide_with_its_pyramid(generic_tiff: Path) -> None:
    with open_slide(generic_tiff) as reader:
        info = reader.info
        assert info.format == "generic-tiff" and info.kind == BRIGHTFIELD
        assert info.level_dimensions == ((1300, 1000), (650, 500), (325, 250))
        assert info.level_downsamples == (1.0, 2.0, 4.0)
        assert info.level_tile_sizes[0] == (256, 256)
        region = reader.read_region(0, 100, 200, 300, 150)
        assert region.shape == (150, 300, 3) and region.dtype == np.uint8
        expected = smooth_rgb(1000, 1300)[200:350, 100:400]
        assert np.abs(region.astype(int) - expected).mean() < 4  # JPEG tolerance


def test_region_outside_a_brightfield_slide_is_white(generic_tiff: Path) -> None:
    with open_slide(generic_tiff) as reader:
        region = reader.read_region(0, -20, -20, 40, 40)
    assert (region[:20] == 255).all() and (region[:, :20] == 255).all()
    assert (region[25:, 25:] != 255).any()


def test_ome_tiff_16bit_reads_native_channels_exactly(ome16: Path) -> None:
    data = smooth_channels(700, 900, 3)
    with open_slide(ome16) as reader:
        info = reader.info
        assert info.format == "ome-tiff" and info.kind == FLUORESCENCE
        assert info.dtype == "uint16" and info.channel_names == ("DAPI", "CD3 (FITC)", "Cy5")
        assert info.mpp_x == pytest.approx(0.325) and info.mpp_y == pytest.approx(0.325)
        assert info.level_dimensions == ((900, 700), (450, 350), (225, 175))
        region = reader.read_region(0, 250, 240, 300, 100)  # spans 4 stored tiles
        np.testing.assert_array_equal(region, np.moveaxis(data[:, 240:340, 250:550], 0, 2))
        low = reader.read_region(1, 0, 0, 450, 350)
        np.testing.assert_array_equal(low, np.moveaxis(data[:, ::2, ::2], 0, 2))


def test_fluorescence_defaults_colour_by_channel_name_and_window_from_percentiles(ome16: Path) -> None:
    with open_slide(ome16) as reader:
        display = reader.info.default_display
    assert [d.color for d in display] == ["0000ff", "00ff00", "ff0000"]
    for d in display:
        assert 0 <= d.window_min < d.window_max <= 65535
        assert d.window_max > 40000  # robust max of data spanning ~3k..62k, not the dtype max
        assert d.window_min < 10000


def test_ome_tiff_8bit_is_fluorescence_with_two_channels(ome8: Path) -> None:
    with open_slide(ome8) as reader:
        assert reader.info.kind == FLUORESCENCE and reader.info.dtype == "uint8"
        assert reader.info.channel_names == ("Hoechst", "AF647")
        assert [d.color for d in reader.info.default_display] == ["0000ff", "ff0000"]
        np.testing.assert_array_equal(
            reader.read_region(0, 0, 0, 400, 300), np.moveaxis(smooth_channels(300, 400, 2, np.uint8), 0, 2)
        )


def test_unknown_channel_names_cycle_through_the_palette() -> None:
    assert colour_for_channel("Channel 0", 0) != colour_for_channel("Channel 1", 1)
    assert colour_for_channel("DAPI", 5) == "0000ff"


def test_aperio_svs_reports_vendor_metadata_and_associated_images(aperio_svs: Path) -> None:
    with open_slide(aperio_svs) as reader:
        info = reader.info
        assert info.format == "aperio" and info.kind == BRIGHTFIELD
        assert info.mpp_x == pytest.approx(0.499) and info.objective_power == 20
        assert info.level_tile_sizes[0] == (240, 240)
        assert {"label", "macro"} <= set(info.associated_images)
        label = reader.associated_image("label")
        assert label.ndim == 3 and label.shape[2] == 3
        thumb = reader.thumbnail(256)
        assert max(thumb.shape[:2]) == 256


def test_corrupt_truncated_unsupported_files_raise_slide_read_error(tmp_path: Path, ome16: Path) -> None:
    cases = {
        "empty.svs": b"",
        "text.tif": b"this is not a slide at all\n" * 10,
        "badtiff.tif": b"II*\x00" + b"\xff\xff\xff\x7f" + b"\x00" * 64,
        "unknown.mrxs": b"[GENERAL]\nSLIDE_ID=x\n",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    truncated = tmp_path / "truncated.ome.tif"
    truncated.write_bytes(ome16.read_bytes()[: ome16.stat().st_size // 2])
    for path in [*(tmp_path / n for n in cases), truncated, tmp_path / "missing.tif", tmp_path]:
        with pytest.raises(SlideReadError) as err:
            open_slide(path)
        assert err.value.reason and "Traceback" not in str(err.value)
    with pytest.raises(SlideReadError, match="truncated"):
        open_slide(truncated)
    with pytest.raises(SlideReadError, match="unsupported file type"):
        open_slide(tmp_path / "text.tif")


def test_format_is_sniffed_from_bytes_not_extension(tmp_path: Path, ome16: Path) -> None:
    renamed = tmp_path / "slide.svs"
    shutil.copy(ome16, renamed)
    with open_slide(renamed) as reader:
        assert reader.info.format == "ome-tiff"


def test_checksums_are_stable_and_change_with_content(tmp_path: Path, ome8: Path) -> None:
    copy = tmp_path / "copy.tif"
    shutil.copy(ome8, copy)
    assert fast_checksum(copy) == fast_checksum(ome8) and fast_checksum(copy).startswith("f1:")
    assert full_checksum(copy) == full_checksum(ome8)
    with open(copy, "ab") as fh:
        fh.write(b"\x00")
    assert fast_checksum(copy) != fast_checksum(ome8)
    assert full_checksum(copy) != full_checksum(ome8)


@pytest.mark.parametrize("planar", ["contig", "separate"])
def test_plain_stripped_float_tiff_reads_as_fluorescence(tmp_path: Path, planar: str) -> None:
    import tifffile

    data = smooth_channels(150, 170, 4).astype(np.float32) / 65535.0  # (4, 150, 170)
    path = tmp_path / f"plain_{planar}.tif"
    if planar == "contig":
        tifffile.imwrite(
            path, np.moveaxis(data, 0, 2), photometric="minisblack", planarconfig="contig", rowsperstrip=16, metadata=None
        )
    else:
        tifffile.imwrite(path, data, photometric="minisblack", planarconfig="separate", rowsperstrip=16, metadata=None)
    with open_slide(path) as reader:
        info = reader.info
        assert info.format == "tiff" and info.kind == FLUORESCENCE and info.dtype == "float32"
        assert info.channel_names == ("Channel 0", "Channel 1", "Channel 2", "Channel 3")
        assert info.level_tile_sizes == (None,)
        region = reader.read_region(0, 10, 20, 100, 50)  # crosses several strips
        np.testing.assert_array_equal(region, np.moveaxis(data[:, 20:70, 10:110], 0, 2))
        assert 0.0 <= info.default_display[0].window_min < info.default_display[0].window_max <= 1.0


def test_thumbnail_of_a_large_level_is_built_in_strips_and_matches_a_direct_resize(ome16: Path) -> None:
    import cv2

    with open_slide(ome16) as reader:
        direct = reader.thumbnail(300)
        strips = reader.thumbnail(300, max_read_px=900 * 700 // 5)
    assert direct.shape == strips.shape == (233, 300, 3)
    full = np.moveaxis(smooth_channels(700, 900, 3), 0, 2)
    expected = cv2.resize(full, (300, 233), interpolation=cv2.INTER_AREA)
    assert np.abs(strips.astype(float) - expected).mean() < 0.01 * 65535


def test_autofluorescence_channels_start_hidden() -> None:
    from annotation.imaging.info import default_display
    from annotation.imaging.render import RenderSettings

    sample = np.moveaxis(smooth_channels(20, 20, 3), 0, 2)
    display = default_display(("DAPI", "CD3", "AF"), sample)
    assert [d.visible for d in display] == [True, True, False]
    assert display[1].color != display[0].color
    info_like = type("I", (), {"default_display": display})()
    assert [c.index for c in RenderSettings.defaults(info_like).channels] == [0, 1]  # type: ignore[arg-type]
