"""Masked losses for partial labels: every term is weighted per pixel and unknown pixels weigh 0."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from mlbackend.engine.nets import split_outputs
from mlbackend.engine.training.targets import Targets


@dataclass(frozen=True)
class LossWeights:
    """Relative weights of the four heads' losses."""

    fg: float = 1.0
    centre: float = 2.0
    cls: float = 1.0
    hv: float = 1.0
    centre_pos_boost: float = 9.0  # up-weights pixels near peaks (the heatmap is mostly zero)


def stack_targets(targets: list[Targets], device: torch.device) -> dict[str, torch.Tensor]:
    """Batch a list of per-crop targets into tensors on ``device``."""
    def st(name: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([getattr(t, name) for t in targets])).to(device)

    return {name: st(name) for name in ("fg", "fg_w", "centre", "centre_w", "hv", "hv_w", "cls", "cls_w")}


def _wmean(loss: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (loss * w).sum() / w.sum().clamp_min(1.0)


def partial_label_loss(
    raw: torch.Tensor, t: dict[str, torch.Tensor], weights: LossWeights, label_smoothing: float = 0.0
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts; pixels with weight 0 (unknown under the label mode) contribute nothing."""
    out = split_outputs(raw)
    fg = _wmean(F.binary_cross_entropy_with_logits(out.fg[:, 0], t["fg"], reduction="none"), t["fg_w"])
    ctr_w = t["centre_w"] * (1.0 + weights.centre_pos_boost * t["centre"])
    ctr = _wmean(F.binary_cross_entropy_with_logits(out.centre[:, 0], t["centre"], reduction="none"), ctr_w)
    hv = _wmean(((out.hv - t["hv"]) ** 2).sum(dim=1), t["hv_w"])
    known = t["cls"] >= 0
    if bool(known.any()):
        ce = F.cross_entropy(out.cls, t["cls"].clamp_min(0), reduction="none", label_smoothing=label_smoothing)
        cls = _wmean(ce, t["cls_w"] * known)
    else:
        cls = raw.sum() * 0.0
    total = weights.fg * fg + weights.centre * ctr + weights.cls * cls + weights.hv * hv
    parts = {k: float(v.detach()) for k, v in (("fg", fg), ("centre", ctr), ("cls", cls), ("hv", hv))}
    return total, parts
