"""Second-stage per-nucleus classifier: a small CNN on crops centred on labelled clicks.

Partial labels map onto it directly: every label with a known class is one training crop, labels with an
unknown class are skipped. At inference it classifies each detected cell from a crop around its centre
(``classify_points``); during training its out-of-fold predictions can re-class labels it confidently
contradicts (``out_of_fold_correct``), since a model that never saw a label cannot have memorised it.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from mlbackend.engine.nets.cropnet import CropNet, CropNetConfig
from mlbackend.engine.stain.augment import _HED_FROM_RGB_OD, _RGB_OD_FROM_HED
from mlbackend.engine.training.samples import TrainingSample

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CellClassifierConfig:
    """Training of the crop classifier (off by default: bundles without it use the dense class head)."""

    enabled: bool = False
    crop_px: int = 40
    width: int = 8  # width 16 learnt no better on the study's validation region at 3x the cost
    steps: int = 1000  # from scratch; a warm start (``init``) uses ``finetune_steps``
    finetune_steps: int = 300
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    shift_px: int = 4  # random re-centring: clicks are off-centre, detected centres less so
    hed_sigma: float = 0.04
    label_smoothing: float = 0.05
    mix: float = 1.0  # cell class probabilities = mix * crop classifier + (1 - mix) * dense head
    tta: int = 2  # inference: average over this many 90-degree rotations of each crop (1-4)
    correct_folds: int = 2  # out-of-fold models for corrective learning (used when corrective learning is on)
    correct_confidence: float = 0.0  # out-of-fold probability needed to re-class a label; 0: never
    correct_steps: int = 500

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CropSet:
    """Crops (N, 3, S, S) uint8 with margin for shifting, their classes and weights, and sample indices."""

    crops: np.ndarray
    cls: np.ndarray
    weight: np.ndarray
    sample: np.ndarray


def _pad_crop(image: np.ndarray, x: float, y: float, size: int) -> np.ndarray:
    """(size, size, 3) crop centred on (x, y), padded with white outside the image."""
    h, w = image.shape[:2]
    half = size // 2
    cx, cy = int(round(x)), int(round(y))
    out = np.full((size, size, 3), 255, np.uint8)
    x0, y0 = cx - half, cy - half
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + size, w), min(y0 + size, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1, :3]
    return out


def point_crops(image: np.ndarray, xy: np.ndarray, size: int) -> np.ndarray:
    """(N, 3, size, size) uint8 crops of an RGB image centred on the (x, y) rows of ``xy``."""
    if image.ndim != 3 or image.shape[2] < 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got {image.shape}")
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    crops = [_pad_crop(image, x, y, size) for x, y in xy]
    if not crops:
        return np.zeros((0, 3, size, size), np.uint8)
    return np.ascontiguousarray(np.stack(crops).transpose(0, 3, 1, 2))


def collect_crops(samples: Sequence[TrainingSample], cfg: CellClassifierConfig) -> CropSet:
    """One crop (with ``shift_px`` margin) per label whose class is known and weight positive."""
    size = cfg.crop_px + 2 * cfg.shift_px
    crops, cls, weight, idx = [], [], [], []
    for i, s in enumerate(samples):
        labs = [lab for lab in s.labels if lab.cls is not None and lab.weight > 0]
        if not labs:
            continue
        crops.append(point_crops(s.image, np.array([[lab.x, lab.y] for lab in labs]), size))
        cls.extend(int(lab.cls) for lab in labs)  # type: ignore[arg-type]
        weight.extend(float(lab.weight) for lab in labs)
        idx.extend([i] * len(labs))
    if not crops:
        return CropSet(np.zeros((0, 3, size, size), np.uint8), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))
    return CropSet(np.concatenate(crops), np.array(cls, np.int64), np.array(weight, np.float64), np.array(idx, np.int64))


def _augment(batch: torch.Tensor, cfg: CellClassifierConfig, gen: torch.Generator) -> torch.Tensor:
    """Random shift (crop from the margin), flips, 90-degree rotations and HED stain jitter; uint8 -> float."""
    b = batch.shape[0]
    m, s = cfg.shift_px, cfg.crop_px
    offs = torch.randint(0, 2 * m + 1, (b, 2), generator=gen) if m else torch.zeros(b, 2, dtype=torch.long)
    out = torch.stack([batch[i, :, oy : oy + s, ox : ox + s] for i, (oy, ox) in enumerate(offs.tolist())])
    out = out.float() / 255.0
    k = int(torch.randint(0, 4, (1,), generator=gen))
    out = torch.rot90(out, k, dims=(2, 3))
    flip = torch.rand(b, generator=gen) < 0.5
    out = torch.where(flip[:, None, None, None], out.flip(3), out)
    if cfg.hed_sigma > 0:
        od = -torch.log(out.clamp_min(1.0 / 255.0)).permute(0, 2, 3, 1)
        hed = od @ torch.as_tensor(_RGB_OD_FROM_HED, dtype=torch.float32)
        alpha = 1.0 + (torch.rand(b, 1, 1, 3, generator=gen) * 2 - 1) * cfg.hed_sigma
        beta = (torch.rand(b, 1, 1, 3, generator=gen) * 2 - 1) * cfg.hed_sigma / 3
        od = (hed * alpha + beta).clamp_min(0) @ torch.as_tensor(_HED_FROM_RGB_OD, dtype=torch.float32)
        out = torch.exp(-od).permute(0, 3, 1, 2)
    return out.contiguous()


def train_crop_classifier(
    data: CropSet, num_classes: int, cfg: CellClassifierConfig, *, steps: int | None = None,
    init: CropNet | None = None, seed: int = 0, device: torch.device | None = None,
) -> tuple[CropNet, dict[str, float]]:
    """Train (or fine-tune ``init``) on the crops; returns the eval-mode net and timing stats."""
    if len(data.cls) == 0:
        raise ValueError("no labelled crops with a known class")
    if data.cls.min() < 0 or data.cls.max() >= num_classes:
        raise ValueError(f"crop classes must lie in [0, {num_classes})")
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    if init is not None:
        net = copy.deepcopy(init)
        if net.config.num_classes != num_classes or net.config.crop_px != cfg.crop_px:
            raise ValueError("initial crop classifier does not match the classes or crop size")
    else:
        net = CropNet(CropNetConfig(num_classes=num_classes, crop_px=cfg.crop_px, width=cfg.width))
    steps = steps if steps is not None else (cfg.finetune_steps if init is not None else cfg.steps)
    net.to(device).train()
    lr = cfg.lr / 3 if init is not None else cfg.lr
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.15)
    crops = torch.from_numpy(data.crops)
    cls = torch.from_numpy(data.cls)
    w = torch.from_numpy(data.weight.astype(np.float32))
    # class-balanced sampling: rare classes are seen as often as common ones
    counts = np.bincount(data.cls, minlength=num_classes).astype(np.float64)
    p = torch.as_tensor(1.0 / counts[data.cls], dtype=torch.float64)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.multinomial(p, cfg.batch_size, replacement=True, generator=gen)
        x = _augment(crops[idx], cfg, gen).to(device)
        loss = F.cross_entropy(net(x), cls[idx].to(device), reduction="none", label_smoothing=cfg.label_smoothing)
        loss = (loss * w[idx].to(device)).sum() / w[idx].sum().clamp_min(1e-6).to(device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    secs = time.perf_counter() - t0
    net.eval()
    return net, {"steps": float(steps), "seconds": secs, "s_per_step": secs / max(steps, 1), "crops": float(len(cls))}


@torch.inference_mode()
def predict_crops(net: CropNet, crops: np.ndarray, batch: int = 256, tta: int = 4) -> np.ndarray:
    """(N, C) softmax for uint8 crops (N, 3, S, S) of the net's crop size, averaged over ``tta`` rotations."""
    s = net.config.crop_px
    if not 1 <= tta <= 4:
        raise ValueError(f"tta must be 1-4 rotations, got {tta}")
    if crops.ndim != 4 or crops.shape[1] != 3 or crops.shape[2:] != (s, s):
        raise ValueError(f"expected (N, 3, {s}, {s}) crops, got {crops.shape}")
    net.eval()
    device = next(net.parameters()).device
    out = []
    for i in range(0, len(crops), batch):
        x = (torch.from_numpy(crops[i : i + batch]).to(device).float() / 255.0).contiguous(memory_format=torch.channels_last)
        probs = sum(torch.softmax(net(torch.rot90(x, k, dims=(2, 3))), dim=1) for k in range(tta)) / tta
        out.append(probs.cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, net.config.num_classes), np.float32)


def classify_points(net: CropNet, image: np.ndarray, xy: np.ndarray, tta: int = 4) -> np.ndarray:
    """(N, C) class probabilities of cells centred at ``xy`` (x, y rows, image pixels) of an RGB image."""
    return predict_crops(net, point_crops(image, xy, net.config.crop_px), tta=tta)


def _central(data: CropSet, crop_px: int) -> np.ndarray:
    m = (data.crops.shape[2] - crop_px) // 2
    return np.ascontiguousarray(data.crops[:, :, m : m + crop_px, m : m + crop_px])


def out_of_fold_correct(
    samples: list[TrainingSample], num_classes: int, cfg: CellClassifierConfig, seed: int = 0,
    device: torch.device | None = None,
) -> tuple[list[TrainingSample], dict[str, float]]:
    """Re-class labels that classifiers trained on the other folds (by sample) confidently contradict.

    A label whose class disagrees with an out-of-fold probability >= ``correct_confidence`` takes that class
    (its weight scaled by the probability). Returns the corrected samples and counts.
    """
    data = collect_crops(samples, cfg)
    k = max(2, cfg.correct_folds)
    if cfg.correct_confidence <= 0 or len(data.cls) == 0 or len(samples) < k:
        return samples, {"relabelled": 0.0, "checked": float(len(data.cls)), "seconds": 0.0}
    t0 = time.perf_counter()
    fold_of_sample = np.random.default_rng(seed).permutation(len(samples)) % k
    fold = fold_of_sample[data.sample]
    probs = np.zeros((len(data.cls), num_classes), np.float32)
    for f in range(k):
        train_idx, test_idx = np.nonzero(fold != f)[0], np.nonzero(fold == f)[0]
        if len(test_idx) == 0 or len(np.unique(data.cls[train_idx])) < 2:
            continue
        sub = CropSet(data.crops[train_idx], data.cls[train_idx], data.weight[train_idx], data.sample[train_idx])
        net, _ = train_crop_classifier(sub, num_classes, cfg, steps=cfg.correct_steps, seed=seed + f, device=device)
        held = CropSet(data.crops[test_idx], data.cls[test_idx], data.weight[test_idx], data.sample[test_idx])
        probs[test_idx] = predict_crops(net, _central(held, cfg.crop_px))
    best = probs.argmax(axis=1)
    flip = (best != data.cls) & (probs[np.arange(len(best)), best] >= cfg.correct_confidence)
    new_cls = {}
    order = 0
    out = []
    for i, s in enumerate(samples):
        labels = list(s.labels)
        for j, lab in enumerate(labels):
            if lab.cls is None or lab.weight <= 0:
                continue
            if flip[order]:
                new_cls[(i, j)] = int(best[order])
                labels[j] = replace(lab, cls=int(best[order]), weight=lab.weight * float(probs[order, best[order]]))
            order += 1
        out.append(replace(s, labels=tuple(labels)))
    secs = time.perf_counter() - t0
    logger.info("out-of-fold correction: %d/%d labels re-classed in %.0fs", len(new_cls), len(data.cls), secs)
    return out, {"relabelled": float(len(new_cls)), "checked": float(len(data.cls)), "seconds": secs}
