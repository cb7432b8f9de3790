"""Corrective learning: where a confident model and a label disagree, re-class, move or down-weight the label."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from mlbackend.engine.inference.maps import Maps, predict_maps
from mlbackend.engine.nets import CellNet
from mlbackend.engine.training.samples import Label, TrainingSample


@dataclass(frozen=True)
class CorrectiveConfig:
    """When and how labels are corrected during training."""

    enabled: bool = False
    start_epoch: int = 4  # let the model learn the easy majority first
    every_epochs: int = 2
    class_confidence: float = 0.8  # model class probability needed to overrule a label's class
    mode: Literal["correct", "downweight"] = "correct"
    downweight: float = 0.2  # weight factor of a label the model confidently contradicts
    label_smoothing: float = 0.1
    snap_radius_px: float = 6.0  # move a point label to the model's centre peak within this distance
    snap_min_peak: float = 0.5
    spurious_max_heat: float = 0.05  # a point label with no centre heat and no foreground near it
    spurious_max_fg: float = 0.1  # (a click on background) is down-weighted


@dataclass(frozen=True)
class CorrectionStats:
    """How many labels one correction pass changed."""

    relabelled: int = 0
    downweighted: int = 0
    moved: int = 0
    checked: int = 0


def _disc_mean(arr: np.ndarray, x: float, y: float, r: float) -> np.ndarray:
    """Mean of ``arr`` (C, H, W) over a disc; falls back to the nearest pixel."""
    _, h, w = arr.shape
    ys, xs = np.ogrid[:h, :w]
    inside = (xs - x) ** 2 + (ys - y) ** 2 <= r * r
    if not inside.any():
        return arr[:, int(np.clip(round(y), 0, h - 1)), int(np.clip(round(x), 0, w - 1))]
    return arr[:, inside].mean(axis=1)


def _correct_label(lab: Label, orig: Label, maps: Maps, cfg: CorrectiveConfig, r: float) -> tuple[Label, str | None]:
    action = None
    if not lab.is_polygon:
        h, w = maps.centre.shape
        x0, x1 = int(max(orig.x - cfg.snap_radius_px, 0)), int(min(orig.x + cfg.snap_radius_px + 1, w))
        y0, y1 = int(max(orig.y - cfg.snap_radius_px, 0)), int(min(orig.y + cfg.snap_radius_px + 1, h))
        win = maps.centre[y0:y1, x0:x1]
        if win.size:
            peak = float(win.max())
            if peak >= cfg.snap_min_peak:
                py, px = np.unravel_index(int(np.argmax(win)), win.shape)
                lab, action = replace(lab, x=float(px + x0), y=float(py + y0)), "moved"
            elif peak < cfg.spurious_max_heat and float(maps.fg[y0:y1, x0:x1].mean()) < cfg.spurious_max_fg:
                return replace(lab, weight=orig.weight * cfg.downweight), "downweighted"
    if orig.cls is None:
        return lab, action
    probs = _disc_mean(maps.cls, lab.x, lab.y, r)
    k = int(np.argmax(probs))
    if k != orig.cls and probs[k] >= cfg.class_confidence:
        if cfg.mode == "correct":
            return replace(lab, cls=k, weight=orig.weight * float(probs[k])), "relabelled"
        return replace(lab, weight=orig.weight * cfg.downweight), "downweighted"
    return replace(lab, cls=orig.cls, weight=orig.weight), action


def correct_samples(
    net: CellNet, samples: list[TrainingSample], cfg: CorrectiveConfig, cls_radius_px: float = 6.0
) -> tuple[list[TrainingSample], CorrectionStats]:
    """Corrected copies of the original samples (corrections are recomputed from scratch each pass)."""
    counts = {"relabelled": 0, "downweighted": 0, "moved": 0}
    checked = 0
    out: list[TrainingSample] = []
    for s in samples:
        if not s.labels:
            out.append(s)
            continue
        maps = predict_maps(net, s.image, s.if_image)
        new_labels = []
        for lab in s.labels:
            new, action = _correct_label(lab, lab, maps, cfg, cls_radius_px)
            checked += 1
            if action:
                counts[action] += 1
            new_labels.append(new)
        out.append(replace(s, labels=tuple(new_labels)))
    net.train()
    return out, CorrectionStats(checked=checked, **counts)
