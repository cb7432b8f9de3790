"""Registration of a molecular (IF) slide onto an anatomical (H&E) slide, with no Django.

Entry point: ``register_pair(he, if_, config=..., progress=...) -> RegistrationResult``.
"""

from .api import register_pair
from .landmarks import refine_with_landmarks
from .preview import preview_image
from .slides import ArraySlide
from .types import QAMap, RegistrationConfig, RegistrationResult, SlideReader

__all__ = [
    "ArraySlide",
    "QAMap",
    "RegistrationConfig",
    "RegistrationResult",
    "SlideReader",
    "preview_image",
    "refine_with_landmarks",
    "register_pair",
]
