"""The plain record every exchange format reads and writes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LabelRecord:
    """One annotation as the exchange formats see it (level-0 H&E px)."""

    id: str
    geometry: dict
    class_name: str | None = None
    class_color: str | None = None
    source: str = "human"
    status: str = "none"
    author: str | None = None
    task_id: int | None = None
    confidence: float | None = None
    measurements: dict = field(default_factory=dict)


def hex_to_rgb(color: str | None) -> list[int] | None:
    """'#rrggbb' -> [r, g, b] (QuPath's colour form)."""
    if not color or len(color) != 7 or not color.startswith("#"):
        return None
    try:
        return [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    except ValueError:
        return None


def rgb_to_hex(rgb) -> str | None:
    """[r, g, b] or a packed ARGB int (older QuPath) -> '#rrggbb'."""
    if isinstance(rgb, list | tuple) and len(rgb) >= 3:
        return "#" + "".join(f"{max(0, min(255, int(v))):02x}" for v in rgb[:3])
    if isinstance(rgb, int):
        return f"#{(rgb >> 16) & 255:02x}{(rgb >> 8) & 255:02x}{rgb & 255:02x}"
    return None
