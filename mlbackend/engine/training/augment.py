"""Joint geometric augmentation of an image crop and its labels, then stain augmentation of the image."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from mlbackend.engine.stain.augment import AugmentConfig, hed_jitter, random_blur
from mlbackend.engine.training.samples import Label, TrainingSample


def _map_label(lab: Label, fn) -> Label:  # noqa: ANN001 - fn maps (x, y) arrays
    x, y = fn(np.array([lab.x]), np.array([lab.y]))
    poly: tuple[tuple[float, float], ...] = ()
    if lab.polygon:
        p = np.asarray(lab.polygon, dtype=np.float64)
        px, py = fn(p[:, 0], p[:, 1])
        poly = tuple(zip(px.tolist(), py.tolist()))
    return replace(lab, x=float(x[0]), y=float(y[0]), polygon=poly)


def _geom(arr: np.ndarray | None, k: int, flip: bool) -> np.ndarray | None:
    if arr is None:
        return None
    out = np.rot90(arr, k) if k else arr
    return np.ascontiguousarray(out[:, ::-1] if flip else out)


def random_crop(sample: TrainingSample, size: int, rng: np.random.Generator, margin_px: float = 24.0) -> TrainingSample:
    """A ``size`` x ``size`` window (white-padded if the image is smaller) with the labels near it."""
    h, w = sample.image.shape[:2]
    y0 = int(rng.integers(0, max(h - size, 0) + 1))
    x0 = int(rng.integers(0, max(w - size, 0) + 1))
    return crop_sample(sample, x0, y0, size, size, margin_px)


def crop_sample(sample: TrainingSample, x0: int, y0: int, w: int, h: int, margin_px: float = 24.0) -> TrainingSample:
    """The window [x0, x0+w) x [y0, y0+h) of a sample (padded with white/zeros past the image edge)."""
    def cut(arr: np.ndarray | None, fill: int) -> np.ndarray | None:
        if arr is None:
            return None
        out = np.full((h, w) + arr.shape[2:], fill, dtype=arr.dtype)
        part = arr[y0 : y0 + h, x0 : x0 + w]
        out[: part.shape[0], : part.shape[1]] = part
        return out

    labels = tuple(
        _map_label(lab, lambda x, y: (x - x0, y - y0))
        for lab in sample.labels
        if -margin_px <= lab.x - x0 < w + margin_px and -margin_px <= lab.y - y0 < h + margin_px
    )
    return replace(sample, image=cut(sample.image, 255), if_image=cut(sample.if_image, 0), labels=labels)


def augment_sample(sample: TrainingSample, size: int, rng: np.random.Generator, cfg: AugmentConfig) -> TrainingSample:
    """Random scale, crop, rot90 and flip (image, IF and labels together), then HED jitter and blur."""
    lo, hi = cfg.scale_range
    s = float(rng.uniform(lo, hi)) if hi > lo else 1.0
    if abs(s - 1.0) > 1e-3:
        hh, ww = sample.image.shape[:2]
        nw, nh = max(int(round(ww * s)), 1), max(int(round(hh * s)), 1)
        # Crop first (with room for the rescale) so we never resize the whole region.
        pre = int(np.ceil(size / s)) + 2
        sample = random_crop(sample, pre, rng, margin_px=24.0 / s)
        nw = nh = max(int(round(pre * s)), size)
        sx = nw / pre
        img = cv2.resize(sample.image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        ifi = None if sample.if_image is None else cv2.resize(sample.if_image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        if ifi is not None and ifi.ndim == 2:
            ifi = ifi[..., None]
        labels = tuple(_map_label(lab, lambda x, y: ((x + 0.5) * sx - 0.5, (y + 0.5) * sx - 0.5)) for lab in sample.labels)
        sample = replace(sample, image=img, if_image=ifi, labels=labels)
    sample = random_crop(sample, size, rng)
    k = int(rng.integers(0, 4)) if cfg.rot90 else 0
    flip = bool(cfg.flips and rng.random() < 0.5)
    sample = rotate_flip(sample, k, flip)
    img = hed_jitter(sample.image, rng, cfg.hed_sigma, cfg.hed_bias)
    img = random_blur(img, rng, cfg.blur_prob, cfg.blur_sigma_max)
    return replace(sample, image=img)


def rotate_flip(sample: TrainingSample, k: int, flip: bool) -> TrainingSample:
    """Rotate by k*90 degrees counter-clockwise (as ``np.rot90``), then optionally mirror left-right."""
    h, w = sample.image.shape[:2]

    def fn(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hh, ww = h, w
        for _ in range(k % 4):
            x, y = y, ww - 1 - x
            hh, ww = ww, hh
        if flip:
            x = ww - 1 - x
        return x, y

    labels = tuple(_map_label(lab, fn) for lab in sample.labels)
    return replace(sample, image=_geom(sample.image, k, flip), if_image=_geom(sample.if_image, k, flip), labels=labels)
