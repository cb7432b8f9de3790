"""Selective self-training (ST++): pseudo-label only the unlabelled crops whose predictions were stable."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from mlbackend.engine.inference.maps import predict_maps
from mlbackend.engine.inference.postprocess import PostConfig, cells_from_maps
from mlbackend.engine.metrics import detection_f1, match_points
from mlbackend.engine.nets import CellNet
from mlbackend.engine.training.samples import Label, TrainingSample


@dataclass(frozen=True)
class SelfTrainConfig:
    """Selection of stable unlabelled crops and the pseudo-labels taken from them."""

    enabled: bool = False
    num_snapshots: int = 3  # checkpoints kept during training (evenly spaced over the last half)
    stability_threshold: float = 0.8  # mean peak-matching F1 x class agreement vs the final model
    match_radius_px: float = 6.0
    min_confidence: float = 0.5  # only confident cells become pseudo-labels
    pseudo_weight: float = 0.5
    extra_epochs: int = 4


@dataclass(frozen=True)
class StabilityScore:
    """Stability of one unlabelled crop across checkpoints."""

    index: int
    score: float
    selected: bool


def stability_scores(
    snapshots: list[dict[str, torch.Tensor]], net: CellNet, images: list[np.ndarray], cfg: SelfTrainConfig, post: PostConfig
) -> list[StabilityScore]:
    """Agreement of each image's cells under every earlier snapshot with the last snapshot's cells."""
    probe = copy.deepcopy(net)
    per_snap = []
    for state in snapshots:
        probe.load_state_dict(state)
        per_snap.append([cells_from_maps(predict_maps(probe, im), post) for im in images])
    scores = []
    for i in range(len(images)):
        final = per_snap[-1][i]
        fxy = np.array([[c.x, c.y] for c in final]).reshape(-1, 2)
        agree = []
        for snap in per_snap[:-1]:
            cells = snap[i]
            xy = np.array([[c.x, c.y] for c in cells]).reshape(-1, 2)
            f1 = detection_f1(fxy, xy, cfg.match_radius_px).f1
            pairs = match_points(fxy, xy, cfg.match_radius_px)
            same = np.mean([final[a].cls == cells[b].cls for a, b in pairs]) if pairs else float(f1 == 1.0)
            agree.append(f1 * float(same))
        score = float(np.mean(agree)) if agree else 0.0
        scores.append(StabilityScore(index=i, score=score, selected=score >= cfg.stability_threshold and len(final) > 0))
    return scores


def pseudo_samples(
    net: CellNet, images: list[np.ndarray], scores: list[StabilityScore], cfg: SelfTrainConfig, post: PostConfig
) -> list[TrainingSample]:
    """Sparse pseudo-labelled samples (confident cells only) from the selected stable images."""
    out = []
    for s in scores:
        if not s.selected:
            continue
        cells = cells_from_maps(predict_maps(net, images[s.index]), post)
        labels = tuple(
            Label(x=c.x, y=c.y, cls=c.cls, weight=cfg.pseudo_weight, annotator="pseudo")
            for c in cells
            if c.confidence >= cfg.min_confidence
        )
        if labels:
            out.append(TrainingSample(image=images[s.index], labels=labels, mode="sparse", sample_id=f"pseudo-{s.index}"))
    net.train()
    return out
