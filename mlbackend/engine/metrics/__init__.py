"""Segmentation and detection metrics: Dice, AJI, PQ, detection F1 at a radius, per-class F1."""

from mlbackend.engine.metrics.detection import (
    ClassScores,
    DetectionScores,
    class_f1,
    detection_f1,
    match_points,
)
from mlbackend.engine.metrics.segmentation import (
    PanopticScores,
    aggregated_jaccard_index,
    dice,
    panoptic_quality,
    pixel_class_f1,
)

__all__ = [
    "ClassScores",
    "DetectionScores",
    "PanopticScores",
    "aggregated_jaccard_index",
    "class_f1",
    "detection_f1",
    "dice",
    "match_points",
    "panoptic_quality",
    "pixel_class_f1",
]
