"""Stain normalisation: Reinhard (LAB statistics) and Macenko (optical-density stain vectors)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb[..., :3].astype(np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)


@dataclass(frozen=True)
class ReinhardNormaliser:
    """Match per-channel LAB mean and standard deviation to a reference image."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def fit(cls, reference_rgb: np.ndarray) -> ReinhardNormaliser:
        """Learn target LAB statistics from a reference RGB uint8 image."""
        lab = _lab(reference_rgb).reshape(-1, 3)
        return cls(mean=tuple(lab.mean(0).tolist()), std=tuple((lab.std(0) + 1e-6).tolist()))

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Return ``rgb`` (uint8) with the reference's LAB statistics."""
        lab = _lab(rgb)
        flat = lab.reshape(-1, 3)
        mu, sd = flat.mean(0), flat.std(0) + 1e-6
        out = (lab - mu) / sd * np.asarray(self.std, np.float32) + np.asarray(self.mean, np.float32)
        return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def macenko_stain_matrix(rgb: np.ndarray, od_threshold: float = 0.15, alpha_pct: float = 1.0) -> np.ndarray:
    """Estimate the 2x3 H&E stain matrix (rows unit OD vectors, H first) of an image (Macenko 2009)."""
    od = -np.log(np.maximum(rgb[..., :3].reshape(-1, 3).astype(np.float64), 1.0) / 255.0)
    od = od[(od > od_threshold).all(axis=1)]
    if len(od) < 10:
        raise ValueError("too few stained pixels to estimate stain vectors")
    _, _, vt = np.linalg.svd(od - od.mean(0), full_matrices=False)
    plane = vt[:2].T  # 3x2, the plane of the two largest variance directions
    plane *= np.where(plane.sum(axis=0) < 0, -1.0, 1.0)
    proj = od @ plane
    angles = np.arctan2(proj[:, 1], proj[:, 0])
    lo, hi = np.percentile(angles, [alpha_pct, 100 - alpha_pct])
    v1 = plane @ np.array([np.cos(lo), np.sin(lo)])
    v2 = plane @ np.array([np.cos(hi), np.sin(hi)])
    # Haematoxylin absorbs most in red, so its OD vector has the larger red component.
    stains = np.stack([v1, v2]) if v1[0] > v2[0] else np.stack([v2, v1])
    return stains / np.linalg.norm(stains, axis=1, keepdims=True)


@dataclass(frozen=True)
class MacenkoNormaliser:
    """Map an image's H&E concentrations onto a reference's stain vectors and concentration range."""

    stains: tuple[tuple[float, float, float], ...]
    max_conc: tuple[float, float]

    @classmethod
    def fit(cls, reference_rgb: np.ndarray) -> MacenkoNormaliser:
        """Learn reference stain vectors and 99th percentile concentrations."""
        stains = macenko_stain_matrix(reference_rgb)
        conc = _concentrations(reference_rgb, stains)
        return cls(stains=tuple(map(tuple, stains.tolist())), max_conc=tuple(np.percentile(conc, 99, axis=0).tolist()))

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Return ``rgb`` (uint8) re-rendered with the reference stains."""
        src = macenko_stain_matrix(rgb)
        conc = _concentrations(rgb, src)
        scale = np.asarray(self.max_conc) / np.maximum(np.percentile(conc, 99, axis=0), 1e-6)
        od = (conc * scale) @ np.asarray(self.stains)
        return np.clip(255.0 * np.exp(-od), 0, 255).astype(np.uint8).reshape(rgb.shape[:2] + (3,))


def _concentrations(rgb: np.ndarray, stains: np.ndarray) -> np.ndarray:
    od = -np.log(np.maximum(rgb[..., :3].reshape(-1, 3).astype(np.float64), 1.0) / 255.0)
    conc, *_ = np.linalg.lstsq(stains.T, od.T, rcond=None)
    return np.maximum(conc.T, 0)
