"""A small U-Net style network whose output channels are [foreground, centre, h, v, class logits...]."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812


@dataclass(frozen=True)
class NetConfig:
    """Architecture: input channels (RGB plus optional IF), width of the first stage, number of stages."""

    num_classes: int = 3
    if_channels: int = 0  # extra IF marker channels appended to RGB (0: the H&E-only annotation model)
    width: int = 16
    depth: int = 3
    stem_stride: int = 2  # 2 runs the network at half resolution (4x fewer FLOPs), outputs upsampled

    @property
    def in_channels(self) -> int:
        return 3 + self.if_channels

    @property
    def out_channels(self) -> int:
        return 4 + self.num_classes

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for checkpoints and JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetConfig:
        """Inverse of ``to_dict`` (unknown keys ignored)."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class NetOutputs:
    """Named views of the raw output tensor (all logits except ``hv``, which is in [-1, 1] after tanh)."""

    fg: torch.Tensor  # (B, 1, H, W)
    centre: torch.Tensor  # (B, 1, H, W)
    hv: torch.Tensor  # (B, 2, H, W): horizontal, vertical normalised distance to the cell centre
    cls: torch.Tensor  # (B, C, H, W)


def split_outputs(raw: torch.Tensor) -> NetOutputs:
    """Split the network's raw output into its heads."""
    return NetOutputs(fg=raw[:, 0:1], centre=raw[:, 1:2], hv=torch.tanh(raw[:, 2:4]), cls=raw[:, 4:])


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class CellNet(nn.Module):
    """Encoder-decoder with skip connections; input float (B, 3+IF, H, W) in [0, 1], H and W multiples of 2**depth * stem."""

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.config = config
        w, s = config.width, config.stem_stride
        self.stem = nn.Sequential(
            nn.Conv2d(config.in_channels, w, 3, stride=s, padding=1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
        )
        widths = [w * 2**i for i in range(config.depth + 1)]
        self.enc = nn.ModuleList([_block(widths[0], widths[0])])
        self.enc.extend(_block(widths[i - 1], widths[i]) for i in range(1, config.depth + 1))
        self.dec = nn.ModuleList(_block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(config.depth)))
        self.head = nn.Conv2d(widths[0], config.out_channels, 1)
        with torch.no_grad():
            self.head.bias.zero_()
            self.head.bias[1] = -4.0  # centre heatmap starts near zero (CenterNet prior)

    @property
    def multiple(self) -> int:
        """Input height and width must be divisible by this."""
        return self.config.stem_stride * 2**self.config.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw output (B, 4 + C, H, W); use ``split_outputs`` for named heads."""
        size = x.shape[-2:]
        h = self.stem(x - 0.5)
        skips = []
        for i, block in enumerate(self.enc):
            h = block(h if i == 0 else F.max_pool2d(h, 2))
            skips.append(h)
        for block, skip in zip(self.dec, reversed(skips[:-1])):
            h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = block(torch.cat([h, skip], dim=1))
        out = self.head(h)
        if out.shape[-2:] != size:
            out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
        return out
