"""Stain handling: H&E augmentation (HED jitter, flips, blur, scale) and Reinhard/Macenko normalisation."""

from mlbackend.engine.stain.augment import AugmentConfig, hed_jitter, random_blur, rgb_to_haematoxylin
from mlbackend.engine.stain.normalise import (
    MacenkoNormaliser,
    ReinhardNormaliser,
    macenko_stain_matrix,
)

__all__ = [
    "AugmentConfig",
    "MacenkoNormaliser",
    "ReinhardNormaliser",
    "hed_jitter",
    "macenko_stain_matrix",
    "random_blur",
    "rgb_to_haematoxylin",
]
