"""Fluorescence rendering: per-channel colour, visibility and display window, composited to RGB.

``RenderSettings`` travels in tile URLs (``?r=...``) and cache keys, so it has one canonical,
URL-safe string form: visible channels only, sorted by index, joined by ``_``; each channel is
``{index}-{rrggbb}-{min}-{max}-{gamma}`` with numbers in shortest decimal form and a leading ``n``
for negatives (e.g. ``0-0000ff-120-3400-1_2-ff0000-80-9000-0.8``). ``none`` means nothing visible.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from annotation.imaging.errors import RenderSettingsError
from annotation.imaging.info import SlideInfo

MAX_CHANNELS = 32
MAX_ENCODED_LENGTH = 1024
GAMMA_RANGE = (0.1, 10.0)
_NUM = r"n?\d{1,12}(?:\.\d{1,8})?"
_CHANNEL_RE = re.compile(rf"^(\d{{1,2}})-([0-9a-fA-F]{{6}})-({_NUM})-({_NUM})-(\d{{1,2}}(?:\.\d{{1,6}})?)$")
_LUT_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


@dataclass(frozen=True)
class ChannelSetting:
    """One visible channel: its index in the slide, colour (rrggbb), window (native units) and gamma."""

    index: int
    color: str
    window_min: float
    window_max: float
    gamma: float = 1.0

    def rgb(self) -> np.ndarray:
        return np.array([int(self.color[i : i + 2], 16) / 255.0 for i in (0, 2, 4)], dtype=np.float32)


@dataclass(frozen=True)
class RenderSettings:
    """Which channels show, in which colour and window; ``encode``/``parse`` give the URL form."""

    channels: tuple[ChannelSetting, ...]

    @classmethod
    def defaults(cls, info: SlideInfo) -> RenderSettings:
        """The slide's default display (colours by channel name, robust percentile windows)."""
        return cls.of(
            ChannelSetting(i, d.color, d.window_min, d.window_max, d.gamma)
            for i, d in enumerate(info.default_display)
            if d.visible
        )

    @classmethod
    def of(cls, channels: object) -> RenderSettings:
        """Validated, canonical settings from channel settings in any order."""
        items = sorted(channels, key=lambda c: c.index)  # type: ignore[attr-defined]
        seen = set()
        clean = []
        for ch in items:
            if ch.index in seen or not 0 <= ch.index < MAX_CHANNELS:
                raise RenderSettingsError(f"channel index {ch.index} repeated or out of range")
            seen.add(ch.index)
            if not re.fullmatch(r"[0-9a-fA-F]{6}", ch.color):
                raise RenderSettingsError(f"colour {ch.color!r} is not rrggbb")
            lo, hi, gamma = _canon(ch.window_min), _canon(ch.window_max), _canon(ch.gamma)
            if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
                raise RenderSettingsError(f"channel {ch.index}: window max must exceed min")
            if not GAMMA_RANGE[0] <= gamma <= GAMMA_RANGE[1]:
                raise RenderSettingsError(f"channel {ch.index}: gamma outside {GAMMA_RANGE}")
            clean.append(ChannelSetting(ch.index, ch.color.lower(), lo, hi, gamma))
        return cls(tuple(clean))

    def encode(self) -> str:
        """Canonical URL-safe string (characters ``0-9 a-f n . - _`` only)."""
        if not self.channels:
            return "none"
        return "_".join(
            f"{c.index}-{c.color}-{_fmt(c.window_min)}-{_fmt(c.window_max)}-{_fmt(c.gamma)}" for c in self.channels
        )

    @classmethod
    def parse(cls, text: str, channel_count: int | None = None) -> RenderSettings:
        """Parse and validate an encoded string; RenderSettingsError on anything malformed."""
        if len(text) > MAX_ENCODED_LENGTH:
            raise RenderSettingsError("render settings too long")
        if text == "none":
            return cls(())
        channels = []
        for part in text.split("_"):
            m = _CHANNEL_RE.match(part)
            if not m:
                raise RenderSettingsError(f"malformed channel setting {part[:40]!r}")
            idx, colour, lo, hi, gamma = m.groups()
            channels.append(ChannelSetting(int(idx), colour, _num(lo), _num(hi), float(gamma)))
        settings = cls.of(channels)
        if channel_count is not None:
            settings.check_channels(channel_count)
        return settings

    def check_channels(self, channel_count: int) -> None:
        """RenderSettingsError if a setting names a channel the slide does not have."""
        for c in self.channels:
            if c.index >= channel_count:
                raise RenderSettingsError(f"channel {c.index} not in slide ({channel_count} channels)")


def composite(data: np.ndarray, settings: RenderSettings) -> np.ndarray:
    """(H, W, C) native-dtype channels -> (H, W, 3) uint8: sum of colour x windowed value, clipped."""
    h, w = data.shape[:2]
    if data.dtype in _LUT_DTYPES:
        return _composite_lut(data, settings)
    out = np.zeros((h, w, 3), dtype=np.float32)
    for ch in settings.channels:
        value = window(data[..., ch.index], ch.window_min, ch.window_max, ch.gamma)
        out += value[..., None] * ch.rgb()
    np.clip(out, 0.0, 1.0, out=out)
    return (out * 255.0 + 0.5).astype(np.uint8)


def _composite_lut(data: np.ndarray, settings: RenderSettings) -> np.ndarray:
    """Integer data: one lookup per visible channel to an 8-bit display value, then saturating adds."""
    h, w = data.shape[:2]
    out = [np.zeros((h, w), dtype=np.uint8) for _ in range(3)]
    for c in settings.channels:
        value = np.take(_value_lut(data.dtype.str, c.window_min, c.window_max, c.gamma), data[..., c.index])
        for k in range(3):
            weight = int(c.color[2 * k : 2 * k + 2], 16)
            if weight == 255:
                cv2.add(out[k], value, dst=out[k])
            elif weight:
                cv2.scaleAdd(value, weight / 255.0, out[k], dst=out[k])
    return cv2.merge(out)


def window(values: np.ndarray, lo: float, hi: float, gamma: float) -> np.ndarray:
    """Display value in [0, 1]: ((v - lo) / (hi - lo)) clipped, to the power gamma (float32)."""
    t = (values.astype(np.float32) - np.float32(lo)) / np.float32(hi - lo)
    np.clip(t, 0.0, 1.0, out=t)
    return t if gamma == 1.0 else np.power(t, np.float32(gamma))


@lru_cache(maxsize=256)
def _value_lut(dtype_str: str, lo: float, hi: float, gamma: float) -> np.ndarray:
    """uint8 table: native integer value -> round(255 * window(value))."""
    levels = np.arange(np.iinfo(np.dtype(dtype_str)).max + 1, dtype=np.float32)
    return (window(levels, lo, hi, gamma) * np.float32(255) + np.float32(0.5)).astype(np.uint8)


def _canon(value: float) -> float:
    return float(_num(_fmt(float(value))))


def _fmt(value: float) -> str:
    """Shortest decimal with at most 6 decimals and no exponent; negatives get an ``n`` prefix."""
    if not math.isfinite(value):
        raise RenderSettingsError("non-finite number in render settings")
    text = f"{abs(value):.6f}".rstrip("0").rstrip(".") or "0"
    return ("n" + text) if value < 0 and text != "0" else text


def _num(text: str) -> float:
    return -float(text[1:]) if text.startswith("n") else float(text)
