from __future__ import annotations

import numpy as np
import pytest

from annotation.imaging.errors import RenderSettingsError
from annotation.imaging.render import ChannelSetting, RenderSettings, composite

URL_SAFE = set("0123456789abcdefn.-_")


def test_settings_round_trip_through_a_canonical_url_safe_string() -> None:
    settings = RenderSettings.of(
        [ChannelSetting(2, "FF0000", 80.0, 9000.0, 0.8), ChannelSetting(0, "0000ff", -12.5, 3400.0, 1.0)]
    )
    text = settings.encode()
    assert text == "0-0000ff-n12.5-3400-1_2-ff0000-80-9000-0.8"
    assert set(text) <= URL_SAFE
    assert RenderSettings.parse(text) == settings
    assert RenderSettings.parse("2-FF0000-80.000-9000-0.80_0-0000ff-n12.5-3400-1").encode() == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0-0000ff-10-5-1",  # max < min
        "0-0000ff-10-20-0.01",  # gamma too small
        "0-00ff-10-20-1",
        "0-0000ff-10-20-1_0-ff0000-10-20-1",  # repeated channel
        "0-0000ff-1e5-2e5-1",
        "x" * 2000,
        "0-0000ff-10-20",
    ],
)
def test_malformed_settings_are_rejected(text: str) -> None:
    with pytest.raises(RenderSettingsError):
        RenderSettings.parse(text)


def test_settings_naming_a_missing_channel_are_rejected() -> None:
    with pytest.raises(RenderSettingsError):
        RenderSettings.parse("3-ffffff-0-10-1", channel_count=3)


def test_16bit_values_are_windowed_not_truncated() -> None:
    data = np.array([[[1000], [2000], [3000], [40000], [500]]], dtype=np.uint16)  # (1, 5, 1)
    rgb = composite(data, RenderSettings.of([ChannelSetting(0, "ffffff", 1000, 3000)]))
    assert rgb[0, :, 0].tolist() == [0, 128, 255, 255, 0]
    # Truncating to 8 bits (v & 0xff) or scaling by 1/256 would give other values:
    assert rgb[0, 1, 0] != (2000 & 0xFF) and rgb[0, 1, 0] != 2000 // 256


def test_gamma_and_colours_combine_additively() -> None:
    data = np.array([[[2000, 1000]]], dtype=np.uint16)
    settings = RenderSettings.of(
        [ChannelSetting(0, "ff0000", 0, 4000, 2.0), ChannelSetting(1, "0000ff", 0, 1000)]
    )
    rgb = composite(data, settings)
    assert rgb[0, 0].tolist() == [64, 0, 255]  # 0.5 ** 2 = 0.25 red; channel 1 saturated blue


def test_hidden_channels_do_not_contribute_and_float_data_works() -> None:
    data = np.full((2, 2, 2), 0.75, dtype=np.float32)
    rgb = composite(data, RenderSettings.of([ChannelSetting(1, "00ff00", 0.5, 1.0)]))
    assert (rgb[..., 0] == 0).all() and (rgb[..., 1] == 128).all()
    assert RenderSettings.parse("none").channels == ()
