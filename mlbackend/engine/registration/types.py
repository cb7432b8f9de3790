"""Data crossing the registration engine's boundary: reader protocol, settings, result."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from annotation.imaging.transform import SlideTransform

Status = Literal["ok", "low_confidence", "failed"]
ProgressFn = Callable[[float, str], None]


@runtime_checkable
class SlideReader(Protocol):
    """The little the engine needs from a slide: pyramid geometry, pixel size, channels, regions.

    ``read_region(level, x, y, w, h)`` takes ``x, y, w, h`` in pixels of ``level`` (as
    ``annotation.imaging`` readers do) and returns ``(h, w)`` or ``(h, w, channels)``; a reader whose
    ``read_region`` also takes ``channels=`` (those readers do) is asked only for the channels used. The geometry may
    also sit on a ``.info`` object (``annotation.imaging.SlideInfo``: ``mpp_x``/``mpp_y``).
    """

    @property
    def level_dimensions(self) -> Sequence[tuple[int, int]]: ...

    @property
    def level_downsamples(self) -> Sequence[float]: ...

    @property
    def mpp(self) -> float | None: ...

    @property
    def channel_names(self) -> Sequence[str]: ...

    def read_region(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray: ...


@dataclass(frozen=True)
class RegistrationConfig:
    """Tunable settings; the defaults suit 0.25-1 um/px slides of tissue sections."""

    nuclear_channel: str = "DAPI"
    nuclear_aliases: tuple[str, ...] = ("DAPI", "Hoechst", "HOECHST", "nuclei", "Nuclear", "DNA")
    autofluorescence_channel: str = "AF"
    coarse_max_px: int = 1024  # longest side of the whole-slide image the coarse step works on
    coarse_min_mpp: float = 8.0  # never work coarser than needed: finer than this adds no robustness
    fine_mpp: tuple[float, ...] = (4.0,)  # pixel sizes of the intermediate non-rigid passes, coarse to fine
    target_error_um: float = 0.3  # the final pass works at the pyramid level that reaches this...
    subpixel_px: float = 0.3  # ...given the block shift precision (pass px) of the sub-pixel peak fit
    block_px: int = 128  # side of a matching block, in pixels of the pass's level
    max_blocks: int = 256  # per pass on ordinary sections
    block_spacing_um: float = 120.0  # the final pass samples at least this densely (large sections)...
    final_block_px: int = 64  # ...with blocks this small (64 um at 1 um/px) where that needs > max_blocks...
    final_iterations: int = 1  # repeats of the final pass (each re-centres the blocks on the new fit)
    max_blocks_final: int = 8000  # ...up to this many blocks (reads stay bounded: one block at a time)
    max_displacement_um: float = 200.0  # cap on the non-rigid part
    max_read_px: int = 4096 * 4096  # the largest single region the engine ever reads
    default_mpp: float = 0.5  # assumed when a slide does not record its pixel size
    local_grid: bool = True  # fit a displacement grid (False: affine only)


@dataclass(frozen=True)
class QAMap:
    """Per-region estimated registration error (um) and confidence (0..1) on a coarse H&E grid."""

    error_um: np.ndarray  # (rows, cols) float32, NaN where there is no tissue / no measurement
    confidence: np.ndarray  # (rows, cols) float32 in [0, 1]
    step_px: float  # grid step in H&E level-0 px; cell (i, j) centres at origin + (j + .5, i + .5) * step
    origin_x: float = 0.0
    origin_y: float = 0.0


@dataclass(frozen=True)
class RegistrationResult:
    """Outcome of registering a molecular (IF) slide onto an anatomical (H&E) slide."""

    transform: SlideTransform  # H&E level-0 px -> IF level-0 px
    status: Status
    reason: str = ""
    metrics: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    qa: QAMap | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        """JSON-safe form (the QA map as nested lists) for storing on the slide pair."""
        qa = None
        if self.qa is not None:
            qa = {
                "step_px": self.qa.step_px,
                "origin_x": self.qa.origin_x,
                "origin_y": self.qa.origin_y,
                "error_um": _nan_to_none(self.qa.error_um),
                "confidence": _nan_to_none(self.qa.confidence),
            }
        return {
            "transform": self.transform.to_dict(),
            "status": self.status,
            "reason": self.reason,
            "metrics": dict(self.metrics),
            "warnings": list(self.warnings),
            "qa": qa,
        }


def _nan_to_none(a: np.ndarray) -> list:
    out = np.round(np.asarray(a, dtype=np.float64), 4).astype(object)
    out[~np.isfinite(np.asarray(a, dtype=np.float64))] = None
    return out.tolist()


class RegistrationError(Exception):
    """Raised inside the engine for a reasoned failure; turned into a ``failed`` result."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
