"""Photometric augmentation of H&E crops; geometric augmentation lives with the training labels."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Ruifrok & Johnston H&E-DAB optical-density vectors (rows: haematoxylin, eosin, DAB).
_HED_FROM_RGB_OD = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])
_HED_FROM_RGB_OD = _HED_FROM_RGB_OD / np.linalg.norm(_HED_FROM_RGB_OD, axis=1, keepdims=True)
_RGB_OD_FROM_HED = np.linalg.inv(_HED_FROM_RGB_OD)


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation strengths; zero disables a component."""

    flips: bool = True
    rot90: bool = True
    hed_sigma: float = 0.05  # multiplicative jitter of each stain's concentration
    hed_bias: float = 0.02  # additive jitter in optical density
    blur_prob: float = 0.2
    blur_sigma_max: float = 1.0
    scale_range: tuple[float, float] = (0.85, 1.15)


def _to_od(rgb: np.ndarray) -> np.ndarray:
    return -np.log(np.maximum(rgb.astype(np.float32), 1.0) / 255.0)


def _from_od(od: np.ndarray) -> np.ndarray:
    return np.clip(255.0 * np.exp(-od), 0, 255).astype(np.uint8)


def rgb_to_haematoxylin(rgb: np.ndarray) -> np.ndarray:
    """Haematoxylin optical density (float32, HxW) of an RGB uint8 image by colour deconvolution."""
    od = _to_od(rgb[..., :3]).reshape(-1, 3)
    hed = od @ _RGB_OD_FROM_HED
    return np.maximum(hed[:, 0], 0).reshape(rgb.shape[:2]).astype(np.float32)


def hed_jitter(rgb: np.ndarray, rng: np.random.Generator, sigma: float = 0.05, bias: float = 0.02) -> np.ndarray:
    """Perturb H, E and DAB concentrations (x*(1+a)+b per stain) and return a new RGB uint8 image."""
    if sigma <= 0 and bias <= 0:
        return rgb
    od = _to_od(rgb[..., :3]).reshape(-1, 3)
    hed = od @ _RGB_OD_FROM_HED
    alpha = 1.0 + rng.uniform(-sigma, sigma, 3)
    beta = rng.uniform(-bias, bias, 3)
    hed = hed * alpha + beta
    return _from_od(np.maximum(hed @ _HED_FROM_RGB_OD, 0)).reshape(rgb.shape[:2] + (3,))


def random_blur(rgb: np.ndarray, rng: np.random.Generator, prob: float = 0.2, sigma_max: float = 1.0) -> np.ndarray:
    """Gaussian blur with probability ``prob`` and a random sigma up to ``sigma_max``."""
    if prob <= 0 or rng.random() >= prob:
        return rgb
    sigma = float(rng.uniform(0.3, sigma_max))
    return cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma)
