"""Turn each slide into one comparable nuclear channel plus a tissue mask."""

from __future__ import annotations

import cv2
import numpy as np
from skimage.filters import threshold_otsu

from .types import RegistrationConfig, RegistrationError

_HEMA = np.array([0.65, 0.70, 0.29])  # Ruifrok & Johnston haematoxylin OD vector
_EOSIN = np.array([0.07, 0.99, 0.11])
_HE_MATRIX = np.stack([_HEMA, _EOSIN, np.cross(_HEMA, _EOSIN)])
_HE_MATRIX = _HE_MATRIX / np.linalg.norm(_HE_MATRIX, axis=1, keepdims=True)
_HE_UNMIX = np.linalg.inv(_HE_MATRIX).astype(np.float32)


def rgb_optical_density(rgb: np.ndarray) -> np.ndarray:
    """Per-channel optical density of a brightfield RGB(A) image (white = 0)."""
    a = np.asarray(rgb, dtype=np.float32)[..., :3]
    scale = 255.0 if a.max(initial=0) > 1.5 else 1.0
    return -np.log(np.clip(a / scale, 1.0 / 255.0, 1.0))


def he_nuclear(rgb: np.ndarray) -> np.ndarray:
    """Haematoxylin optical density by colour deconvolution (the same unmixing as skimage's rgb2hed)."""
    od = rgb_optical_density(rgb)
    hema = od.reshape(-1, 3) @ _HE_UNMIX[:, 0]
    return np.clip(hema.reshape(od.shape[:2]), 0, None).astype(np.float32)


def he_tissue_mask(rgb: np.ndarray, min_od: float = 0.12) -> np.ndarray:
    """Tissue where the smoothed total optical density clears an absolute floor and Otsu's threshold."""
    od = rgb_optical_density(rgb).sum(axis=2)
    od = cv2.GaussianBlur(od, (0, 0), 2.0)
    t = min_od
    if float(od.max()) > min_od:
        t = max(min_od, min(float(threshold_otsu(od)), 0.35))
    return _clean(od > t)


def if_channel_index(names: tuple[str, ...], cfg: RegistrationConfig, *, optional: bool = False) -> int | None:
    """Index of the nuclear channel by name (case-insensitive, with aliases); failed result if absent."""
    lower = [n.lower() for n in names]
    wanted = (cfg.nuclear_channel, *cfg.nuclear_aliases) if not optional else (cfg.autofluorescence_channel,)
    for name in wanted:
        if name.lower() in lower:
            return lower.index(name.lower())
    if optional:
        return None
    raise RegistrationError(
        f"IF slide has no nuclear channel {cfg.nuclear_channel!r}; channels found: {list(names)}"
    )


def normalise(a: np.ndarray, lo_pct: float = 1.0, hi_pct: float = 99.5, mask: np.ndarray | None = None) -> np.ndarray:
    """Robust contrast normalisation to about [0, 1] (percentiles, optionally within a mask)."""
    vals = a[mask] if mask is not None and mask.any() else a
    if vals.size == 0:
        return np.zeros_like(a, dtype=np.float32)
    lo, hi = np.percentile(vals, [lo_pct, hi_pct])
    if hi - lo < 1e-9:
        return np.zeros_like(a, dtype=np.float32)
    return np.clip((a - lo) / (hi - lo), 0, 1.5).astype(np.float32)


def if_nuclear(img: np.ndarray, nuc: int, af: int | None) -> np.ndarray:
    """Nuclear channel with log-like contrast compression (fluorescence is heavy-tailed)."""
    dapi = np.asarray(img[..., nuc], dtype=np.float32)
    return np.sqrt(np.clip(dapi - float(dapi.min(initial=0.0)), 0, None))


def if_tissue_mask(img: np.ndarray, nuc: int, af: int | None, min_snr: float = 6.0) -> np.ndarray:
    """Tissue where the smoothed nuclear (+AF) signal stands clearly above the background noise."""
    sig = np.asarray(img[..., nuc], dtype=np.float32)
    if af is not None:
        a = np.asarray(img[..., af], dtype=np.float32)
        sig = sig / (np.percentile(sig, 99) + 1e-6) + a / (np.percentile(a, 99) + 1e-6)
    sig = cv2.GaussianBlur(sig, (0, 0), 2.0)
    if float(sig.max() - sig.min()) < 1e-6:
        return np.zeros(sig.shape, bool)
    t = float(threshold_otsu(sig))
    lo, hi = sig[sig <= t], sig[sig > t]
    noise = float(lo.std()) if lo.size > 1 else 0.0
    if hi.size == 0 or float(hi.mean() - lo.mean()) < min_snr * noise + 1e-6:
        return np.zeros(sig.shape, bool)
    # keep faint tissue (autofluorescence) too: a threshold between background and Otsu's split
    return _clean(sig > lo.mean() + 0.5 * (t - lo.mean()))


def _clean(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, k)
    return m.astype(bool)


def require_tissue(mask: np.ndarray, label: str, min_fraction: float = 0.002) -> None:
    """Raise a ``failed: no tissue`` error when the mask is (almost) empty."""
    if float(mask.mean()) < min_fraction:
        raise RegistrationError(f"no tissue found on the {label} slide")
