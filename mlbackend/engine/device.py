"""One place that picks the torch device and sets CPU thread counts for the engine."""

from __future__ import annotations

import logging
import os

import torch

logger = logging.getLogger(__name__)


def pick_device(prefer: str | None = None) -> torch.device:
    """Return CUDA when available (or ``prefer`` if given), else CPU."""
    if prefer:
        return torch.device(prefer)
    env = os.environ.get("LAYPATH_TORCH_DEVICE")
    if env:
        return torch.device(env)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def configure_threads(num_threads: int | None = None) -> int:
    """Set torch intra-op threads (default: ``LAYPATH_TORCH_THREADS`` or the CPU count) and return it."""
    if num_threads is None:
        env = os.environ.get("LAYPATH_TORCH_THREADS")
        num_threads = int(env) if env else max(1, len(os.sched_getaffinity(0)))
    num_threads = max(1, int(num_threads))
    if torch.get_num_threads() != num_threads:
        torch.set_num_threads(num_threads)
        logger.debug("torch intra-op threads set to %d", num_threads)
    return num_threads
