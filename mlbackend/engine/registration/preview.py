"""Small QA images of a registration: checkerboard or colour overlay of H&E and warped IF nuclei."""

from __future__ import annotations

from typing import Literal

import numpy as np

from annotation.imaging.transform import SlideTransform

from .preprocess import if_channel_index, if_nuclear, normalise
from .quality import warp_to_fixed
from .slides import read_downsampled, scale_matrix, slide_view
from .types import RegistrationConfig, SlideReader


def preview_image(he: SlideReader, if_: SlideReader, transform: SlideTransform, *, max_px: int = 512,
                  mode: Literal["checkerboard", "overlay"] = "checkerboard", squares: int = 8,
                  config: RegistrationConfig | None = None) -> np.ndarray:
    """An RGB uint8 image (longest side ``max_px``) of the H&E with the registered IF nuclear channel."""
    cfg = config or RegistrationConfig()
    hv = slide_view(he, cfg.default_mpp, [], "H&E")
    iv = slide_view(if_, cfg.default_mpp, [], "IF")
    ds = max(hv.size) / max_px
    rgb = read_downsampled(hv, ds, cfg.max_read_px)[..., :3]
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    nuc = if_channel_index(iv.channel_names, cfg)
    ds_if = max(1.0, ds * transform.scale())
    img = read_downsampled(iv, ds_if, cfg.max_read_px)
    dapi = normalise(if_nuclear(img, nuc, None))
    warped = warp_to_fixed(dapi, rgb.shape[:2], transform, scale_matrix(ds), scale_matrix(ds_if))
    warped = np.clip(warped, 0, 1)
    fluo = np.zeros_like(rgb)
    fluo[..., 2] = (warped * 255).astype(np.uint8)
    fluo[..., 1] = (warped * 90).astype(np.uint8)
    if mode == "overlay":
        alpha = (0.8 * warped)[..., None]
        out = rgb * (1 - alpha) + np.array([40, 120, 255]) * alpha
        return np.clip(out, 0, 255).astype(np.uint8)
    sq = max(1, max(rgb.shape[:2]) // squares)
    yy, xx = np.mgrid[0 : rgb.shape[0], 0 : rgb.shape[1]]
    board = ((yy // sq + xx // sq) % 2 == 0)[..., None]
    return np.where(board, rgb, fluo).astype(np.uint8)
