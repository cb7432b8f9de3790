"""A small toy H&E/IF pair with a known transform, for tests and quick checks (not the synthetic generator)."""

from __future__ import annotations

import cv2
import numpy as np

from annotation.imaging.transform import SlideTransform

from .slides import ArraySlide

_HEMA = np.array([0.65, 0.70, 0.29])
_EOSIN = np.array([0.07, 0.99, 0.11])


def _tissue(h: int, w: int, rng: np.random.Generator, cover: float) -> np.ndarray:
    """An irregular blob covering about ``cover`` of the image (1.0 = everything)."""
    if cover >= 1.0:
        return np.ones((h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((xx - w / 2) / (w * 0.5), (yy - h / 2) / (h * 0.5))
    noise = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), max(h, w) / 20)
    noise /= np.abs(noise).max() + 1e-9
    return (r + 0.25 * noise < np.sqrt(cover) * 0.9).astype(np.float32)


def _splat(pts: np.ndarray, h: int, w: int, sigma: float) -> np.ndarray:
    img = np.zeros((h, w), np.float32)
    x, y = pts[:, 0], pts[:, 1]
    ok = (x >= 0) & (y >= 0) & (x < w - 1) & (y < h - 1)
    x, y = x[ok], y[ok]
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for dx, dy, wt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(img, (y0 + dy, x0 + dx), wt)
    out = cv2.GaussianBlur(img, (0, 0), sigma)
    return out / (out.max() + 1e-9)


def toy_pair(size: int = 512, transform: SlideTransform | None = None, *, seed: int = 0, mpp: float = 1.0,
             cover: float = 0.6, if_size: tuple[int, int] | None = None,
             channel_names: tuple[str, ...] = ("DAPI", "CD3", "AF")) -> tuple[ArraySlide, ArraySlide]:
    """Render an H&E and an IF slide of the same nuclei; the IF's nuclei sit at ``transform(p)``."""
    t = transform or SlideTransform.identity()
    rng = np.random.default_rng(seed)
    h = w = size
    iw, ih = if_size or (size, size)
    tissue = _tissue(h, w, rng, cover)
    n = int(h * w * tissue.mean() / (12.0 / mpp) ** 2)
    pts = rng.uniform(0, [w, h], size=(n * 3, 2))
    pts = pts[tissue[pts[:, 1].astype(int), pts[:, 0].astype(int)] > 0][:n]
    sigma = 2.0 / mpp
    hema = _splat(pts, h, w, sigma) * 1.2
    eos = tissue * (0.25 + 0.1 * cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 3))
    od = hema[..., None] * _HEMA + eos[..., None] * _EOSIN
    rgb = np.clip(255 * np.exp(-od) + rng.normal(0, 2, (h, w, 3)), 0, 255).astype(np.uint8)
    q = t.map_points(pts)
    dapi = _splat(q, ih, iw, sigma * t.scale())
    inv = np.linalg.inv(t.matrix)
    tis_if = cv2.warpAffine(tissue, inv[:2], (iw, ih), flags=cv2.INTER_LINEAR)
    af = tis_if * 0.3
    cd3 = rng.random((ih, iw)).astype(np.float32) * 0.05
    chans = {"af": af, "dapi": dapi, "hoechst": dapi}
    stack = [next((v for k, v in chans.items() if k in c.lower()), cd3) for c in channel_names]
    ifimg = np.clip(np.stack(stack, axis=2) * 3000 + rng.normal(100, 10, (ih, iw, len(stack))), 0, 65535)
    return ArraySlide(rgb, mpp, ("R", "G", "B")), ArraySlide(ifimg.astype(np.uint16), mpp, channel_names)
