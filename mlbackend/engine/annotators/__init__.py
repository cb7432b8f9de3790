"""Simulated annotators (lay people with the IF overlay, experts without it) for studies and demos."""

from mlbackend.engine.annotators.simulate import (
    AnnotatorProfile,
    GroundTruthCells,
    annotate_region,
    expert_profiles,
    lay_profiles,
    realised_error_rates,
)

__all__ = [
    "AnnotatorProfile",
    "GroundTruthCells",
    "annotate_region",
    "expert_profiles",
    "lay_profiles",
    "realised_error_rates",
]
