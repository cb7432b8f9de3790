"""Training samples: an image crop with partial labels (points or polygons) and a per-region label mode."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

LabelMode = Literal["exhaustive", "sparse"]


@dataclass(frozen=True)
class Label:
    """One cell label in crop pixel coordinates: a point (``polygon`` empty) or a polygon with its centre."""

    x: float
    y: float
    cls: int | None = None  # class index into the model's class names; None = "a cell, class unknown"
    weight: float = 1.0
    polygon: tuple[tuple[float, float], ...] = ()  # (x, y) vertices; empty for a point label
    annotator: str | None = None

    @property
    def is_polygon(self) -> bool:
        return len(self.polygon) >= 3


@dataclass(frozen=True)
class TrainingSample:
    """An image crop and its labels; ``classes`` are the class indices the region asked for (None = all).

    In a ``sparse`` region unlabelled pixels are unknown. In an ``exhaustive`` region every cell of the asked
    classes is labelled; when all classes were asked, pixels away from labels are background.
    ``if_image`` holds optional IF marker channels (H, W, K) registered to ``image`` for IF-input models.
    """

    image: np.ndarray  # (H, W, 3) uint8 RGB
    labels: tuple[Label, ...]
    mode: LabelMode = "sparse"
    classes: tuple[int, ...] | None = None
    if_image: np.ndarray | None = None
    sample_id: str = ""

    def asks_all_classes(self, num_classes: int) -> bool:
        """True when the region asked for every class (so unlabelled space is known to hold no cell)."""
        return self.classes is None or set(range(num_classes)) <= set(self.classes)


def apply_annotator_weights(samples: list[TrainingSample], weights: dict[str, float]) -> list[TrainingSample]:
    """Multiply each label's weight by its annotator's reliability (annotators not listed keep 1.0)."""
    if not weights:
        return list(samples)
    out = []
    for s in samples:
        labels = tuple(
            replace(lab, weight=lab.weight * float(weights.get(lab.annotator or "", 1.0))) for lab in s.labels
        )
        out.append(replace(s, labels=labels))
    return out


def label_arrays(labels: tuple[Label, ...] | list[Label]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres (N, 2), classes (N,) with -1 for unknown, weights (N,)."""
    xy = np.array([[lab.x, lab.y] for lab in labels], dtype=np.float64).reshape(-1, 2)
    cls = np.array([-1 if lab.cls is None else lab.cls for lab in labels], dtype=np.int64)
    w = np.array([lab.weight for lab in labels], dtype=np.float64)
    return xy, cls, w
