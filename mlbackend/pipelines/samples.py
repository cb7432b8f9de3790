"""Turn the platform's task regions and labels into engine training samples and held-out references."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from annotation.imaging.readers import open_slide
from annotation.selectors.training import TrainingLabel, TrainingRegion

MAX_REGION_PX = 4096  # a task larger than this is trained on its first 4096 px square (bounded memory)


@dataclass(frozen=True)
class Reference:
    """Held-out labels of one region in crop px: centres and class indices (-1 = unknown class)."""

    region: TrainingRegion
    xy: np.ndarray
    cls: np.ndarray


def is_validation(task_id: int, share: float = 0.2) -> bool:
    """Deterministic held-out split by task id (stable across retrainings, so metrics compare)."""
    digest = hashlib.sha256(f"laypath-val-{task_id}".encode()).digest()
    return digest[0] / 256.0 < share


def split_regions(regions: list[TrainingRegion], share: float = 0.2) -> tuple[list[TrainingRegion], list[TrainingRegion]]:
    """Train/validation split; with few tasks at least one is held out and one is trained on."""
    val = [r for r in regions if is_validation(r.task_id, share)]
    train = [r for r in regions if not is_validation(r.task_id, share)]
    if not val and len(train) >= 2:
        val, train = train[-1:], train[:-1]
    if not train and len(val) >= 2:
        train, val = val[:-1], val[-1:]
    return train, val


def _centre(geometry: dict) -> tuple[float, float]:
    if geometry["type"] == "Point":
        return float(geometry["coordinates"][0]), float(geometry["coordinates"][1])
    ring = geometry["coordinates"][0][:-1] or geometry["coordinates"][0]
    return float(np.mean([p[0] for p in ring])), float(np.mean([p[1] for p in ring]))


def _label(lab: TrainingLabel, x0: int, y0: int, classes: dict[str, int]):
    from mlbackend.engine.training.samples import Label

    cx, cy = _centre(lab.geometry)
    polygon: tuple[tuple[float, float], ...] = ()
    if lab.geometry["type"] == "Polygon":
        polygon = tuple((float(p[0]) - x0, float(p[1]) - y0) for p in lab.geometry["coordinates"][0][:-1])
    return Label(
        x=cx - x0, y=cy - y0, cls=classes.get(lab.class_name), weight=float(lab.weight), polygon=polygon,
        annotator=str(lab.author_id) if lab.author_id is not None else lab.source,
    )


def region_crop(region: TrainingRegion) -> tuple[np.ndarray, int, int]:
    """RGB pixels of the region (capped at MAX_REGION_PX a side) and its top-left."""
    x0, y0, x1, y1 = region.rect
    w, h = min(x1 - x0, MAX_REGION_PX), min(y1 - y0, MAX_REGION_PX)
    with open_slide(region.slide_path) as reader:
        rgb = np.asarray(reader.read_region(0, x0, y0, w, h))[..., :3]
    return np.ascontiguousarray(rgb), x0, y0


def region_sample(region: TrainingRegion, class_names: list[str]):
    """One training sample per task region, in crop coordinates, honouring label mode and asked classes."""
    from mlbackend.engine.training.samples import TrainingSample

    classes = {name: i for i, name in enumerate(class_names)}
    rgb, x0, y0 = region_crop(region)
    h, w = rgb.shape[:2]
    labels = tuple(
        lab for lab in (_label(t, x0, y0, classes) for t in region.labels) if 0 <= lab.x < w and 0 <= lab.y < h
    )
    asked = tuple(sorted(classes[c] for c in region.classes if c in classes)) or None
    return TrainingSample(image=rgb, labels=labels, mode=region.label_mode, classes=asked, sample_id=f"task-{region.task_id}")


def region_reference(region: TrainingRegion, class_names: list[str]) -> Reference:
    sample = region_sample(region, class_names)
    xy = np.array([[lab.x, lab.y] for lab in sample.labels], dtype=np.float64).reshape(-1, 2)
    cls = np.array([-1 if lab.cls is None else lab.cls for lab in sample.labels], dtype=np.int64)
    return Reference(region=region, xy=xy, cls=cls)
