"""Inference-time copy of a network with every BatchNorm folded into the convolution before it."""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from mlbackend.engine.nets.cellnet import CellNet


def fuse_sequential(seq: nn.Sequential) -> nn.Sequential:
    """The layers of `seq` with each Conv2d+BatchNorm2d pair folded into one convolution (eval mode)."""
    layers = list(seq)
    out: list[nn.Module] = []
    i = 0
    while i < len(layers):
        if i + 1 < len(layers) and isinstance(layers[i], nn.Conv2d) and isinstance(layers[i + 1], nn.BatchNorm2d):
            out.append(fuse_conv_bn_eval(layers[i], layers[i + 1]))
            i += 2
        else:
            out.append(layers[i])
            i += 1
    return nn.Sequential(*out)


def fuse_for_inference(net: CellNet) -> CellNet:
    """An eval-mode copy with Conv+BN pairs fused (same outputs, fewer passes over memory)."""
    fused = copy.deepcopy(net).eval()
    fused.stem = fuse_sequential(fused.stem)
    fused.enc = nn.ModuleList(fuse_sequential(b) for b in fused.enc)
    fused.dec = nn.ModuleList(fuse_sequential(b) for b in fused.dec)
    return fused
