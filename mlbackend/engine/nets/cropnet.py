"""A small per-nucleus classifier: one RGB crop centred on a cell in, class logits out."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from mlbackend.engine.nets.fuse import fuse_sequential


@dataclass(frozen=True)
class CropNetConfig:
    """Architecture of the crop classifier; crops are ``crop_px`` square at full resolution."""

    num_classes: int = 3
    crop_px: int = 40
    width: int = 8

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for checkpoints and JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CropNetConfig:
        """Inverse of ``to_dict`` (unknown keys ignored)."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _stage(c_in: int, c_out: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    ]


class CropNet(nn.Module):
    """Three conv stages (full, 1/2, 1/4 resolution), global average and max pooling, linear classifier.

    Input float (B, 3, crop_px, crop_px) RGB in [0, 1]; output logits (B, num_classes).
    """

    def __init__(self, config: CropNetConfig) -> None:
        super().__init__()
        if config.num_classes < 2 or config.crop_px < 8 or config.width < 1:
            raise ValueError(f"invalid crop classifier config {config}")
        self.config = config
        w = config.width
        self.features = nn.Sequential(
            *_stage(3, w), nn.MaxPool2d(2), *_stage(w, 2 * w), nn.MaxPool2d(2), *_stage(2 * w, 4 * w),
        )
        self.fc = nn.Sequential(nn.Dropout(0.2), nn.Linear(8 * w, config.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits for a batch of crops."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W) crops, got {tuple(x.shape)}")
        h = self.features(x - 0.5)
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.fc(pooled)


def fuse_cropnet(net: CropNet) -> CropNet:
    """An eval-mode, channels_last copy with every Conv+BN pair folded into one convolution (same outputs)."""
    fused = copy.deepcopy(net).eval()
    fused.features = fuse_sequential(fused.features)
    return fused.to(memory_format=torch.channels_last)
