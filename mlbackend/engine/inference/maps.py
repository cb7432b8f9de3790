"""Run the network on image crops and return per-pixel probability maps as NumPy arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from mlbackend.engine.nets import CellNet, split_outputs


@dataclass(frozen=True)
class Maps:
    """Network outputs for one crop: probabilities in [0, 1] and HoVer maps in [-1, 1]."""

    fg: np.ndarray  # (H, W) float32
    centre: np.ndarray  # (H, W) float32
    hv: np.ndarray  # (2, H, W) float32
    cls: np.ndarray  # (C, H, W) float32 softmax over classes


def to_input(image: np.ndarray, if_image: np.ndarray | None, if_channels: int) -> np.ndarray:
    """(C, H, W) float32 network input from an RGB uint8 crop and optional IF channels (uint8 or float in [0,1])."""
    x = image[..., :3].astype(np.float32) / 255.0
    if if_channels:
        if if_image is None:
            extra = np.zeros(image.shape[:2] + (if_channels,), np.float32)
        else:
            extra = if_image.astype(np.float32)
            extra = extra / 255.0 if if_image.dtype == np.uint8 else extra
            extra = extra.reshape(image.shape[:2] + (-1,))[..., :if_channels]
        x = np.concatenate([x, extra], axis=-1)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


@torch.inference_mode()
def predict_batch(net: CellNet, batch: np.ndarray, device: torch.device | None = None) -> list[Maps]:
    """Maps for a batch (B, C, H, W) float32; pads to the network's size multiple with white/zeros."""
    device = device or next(net.parameters()).device
    b, _, h, w = batch.shape
    m = net.multiple
    ph, pw = (-h) % m, (-w) % m
    x = torch.from_numpy(batch).to(device)
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), value=1.0)
        x[:, 3:, h:, :] = 0.0
        x[:, 3:, :, w:] = 0.0
    out = split_outputs(net(x.contiguous(memory_format=torch.channels_last)))
    fg = torch.sigmoid(out.fg)[:, 0, :h, :w]
    ctr = torch.sigmoid(out.centre)[:, 0, :h, :w]
    hv = out.hv[:, :, :h, :w]
    cls = torch.softmax(out.cls, dim=1)[:, :, :h, :w]
    fg, ctr, hv, cls = (t.float().cpu().numpy() for t in (fg, ctr, hv, cls))
    return [Maps(fg=fg[i], centre=ctr[i], hv=hv[i], cls=cls[i]) for i in range(b)]


def predict_maps(net: CellNet, image: np.ndarray, if_image: np.ndarray | None = None) -> Maps:
    """Maps for one RGB uint8 crop (H, W, 3); the network is switched to eval mode."""
    net.eval()
    x = to_input(image, if_image, net.config.if_channels)[None]
    return predict_batch(net, x)[0]
