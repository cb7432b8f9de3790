"""Per-task label masks that keep partial labels honest: unknown, negative and each class.

Encoding (uint8): 0 = unknown (not labelled, says nothing), 1 = negative (no cell of the asked classes:
only in exhaustive tasks), 2 + i = class i of `class_names`. Points are drawn as discs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.draw import disk, polygon

from annotation.exchange.records import LabelRecord

UNKNOWN = 0
NEGATIVE = 1
FIRST_CLASS = 2


@dataclass(frozen=True)
class MaskSpec:
    origin_x: float
    origin_y: float
    width_px: int
    height_px: int
    downsample: float = 1.0
    point_radius_px: float = 6.0


def label_mask(
    records: list[LabelRecord], *, spec: MaskSpec, class_names: list[str], exhaustive: bool,
    region_ring: list[list[float]] | None = None,
) -> np.ndarray:
    """Rasterise a task's labels into the unknown/negative/class encoding."""
    h = max(1, int(round(spec.height_px / spec.downsample)))
    w = max(1, int(round(spec.width_px / spec.downsample)))
    mask = np.full((h, w), NEGATIVE if exhaustive else UNKNOWN, dtype=np.uint8)
    if exhaustive and region_ring:
        inside = np.zeros((h, w), dtype=bool)
        rr, cc = polygon(
            [(y - spec.origin_y) / spec.downsample for _, y in region_ring],
            [(x - spec.origin_x) / spec.downsample for x, _ in region_ring],
            shape=(h, w),
        )
        inside[rr, cc] = True
        mask[~inside] = UNKNOWN
    index = {name: i for i, name in enumerate(class_names)}
    for record in records:
        if record.class_name not in index:
            continue
        value = FIRST_CLASS + index[record.class_name]
        geometry = record.geometry
        if geometry["type"] == "Point":
            x, y = geometry["coordinates"][:2]
            rr, cc = disk(
                ((y - spec.origin_y) / spec.downsample, (x - spec.origin_x) / spec.downsample),
                max(1.0, spec.point_radius_px / spec.downsample),
                shape=(h, w),
            )
        else:
            ring = geometry["coordinates"][0]
            rr, cc = polygon(
                [(p[1] - spec.origin_y) / spec.downsample for p in ring],
                [(p[0] - spec.origin_x) / spec.downsample for p in ring],
                shape=(h, w),
            )
        mask[rr, cc] = value
    return mask


def mask_legend(class_names: list[str]) -> dict[str, int]:
    legend = {"unknown": UNKNOWN, "negative": NEGATIVE}
    legend.update({name: FIRST_CLASS + i for i, name in enumerate(class_names)})
    return legend
