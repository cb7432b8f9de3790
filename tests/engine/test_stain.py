"""Stain augmentation and normalisation behave as colour transforms should."""

from __future__ import annotations

import numpy as np

from mlbackend.engine.stain import (
    MacenkoNormaliser,
    ReinhardNormaliser,
    hed_jitter,
    macenko_stain_matrix,
    rgb_to_haematoxylin,
)

H_VEC = np.array([0.65, 0.70, 0.29])
E_VEC = np.array([0.07, 0.99, 0.11])


def _he_image(rng: np.random.Generator, h_scale: float = 1.0, size: int = 64) -> np.ndarray:
    """An image mixed from two known stain vectors with random concentrations."""
    h = rng.gamma(2.0, 0.35, (size, size)) * h_scale
    e = rng.gamma(2.0, 0.25, (size, size))
    hv, ev = H_VEC / np.linalg.norm(H_VEC), E_VEC / np.linalg.norm(E_VEC)
    od = h[..., None] * hv + e[..., None] * ev
    return np.clip(255 * np.exp(-od), 0, 255).astype(np.uint8)


def test_haematoxylin_channel_is_higher_in_nuclei() -> None:
    img = np.full((10, 10, 3), (230, 180, 210), np.uint8)  # pink stroma
    img[3:6, 3:6] = (70, 60, 140)  # blue-purple nucleus
    hema = rgb_to_haematoxylin(img)
    assert hema[4, 4] > 3 * hema[0, 0]


def test_hed_jitter_changes_colours_but_keeps_structure() -> None:
    rng = np.random.default_rng(0)
    img = _he_image(rng)
    out = hed_jitter(img, np.random.default_rng(1), sigma=0.2, bias=0.05)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - img.astype(int)).mean() > 1.0
    corr = np.corrcoef(out[..., 0].ravel(), img[..., 0].ravel())[0, 1]
    assert corr > 0.9
    assert hed_jitter(img, rng, sigma=0.0, bias=0.0) is img


def test_reinhard_matches_reference_statistics() -> None:
    rng = np.random.default_rng(2)
    ref = _he_image(rng)
    src = np.clip(_he_image(rng, 0.5).astype(int) + 20, 0, 255).astype(np.uint8)
    norm = ReinhardNormaliser.fit(ref)
    out = norm(src)
    after = ReinhardNormaliser.fit(out)
    assert np.allclose(after.mean, norm.mean, atol=3.0)
    before = ReinhardNormaliser.fit(src)
    assert np.abs(np.subtract(before.mean, norm.mean)).sum() > np.abs(np.subtract(after.mean, norm.mean)).sum()


def test_macenko_recovers_the_stain_vectors_it_was_mixed_from() -> None:
    stains = macenko_stain_matrix(_he_image(np.random.default_rng(3), size=96))
    assert np.dot(stains[0], H_VEC / np.linalg.norm(H_VEC)) > 0.97
    assert np.dot(stains[1], E_VEC / np.linalg.norm(E_VEC)) > 0.97


def test_macenko_normalisation_brings_haematoxylin_intensity_towards_reference() -> None:
    rng = np.random.default_rng(4)
    ref = _he_image(rng, 1.0, 96)
    faint = _he_image(rng, 0.4, 96)
    out = MacenkoNormaliser.fit(ref)(faint)
    h_ref, h_faint, h_out = (float(rgb_to_haematoxylin(im).mean()) for im in (ref, faint, out))
    assert abs(h_out - h_ref) < abs(h_faint - h_ref)
