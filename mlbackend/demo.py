"""Demo slide pair for the quick start (generated, never downloaded)."""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)


def demo_pair_ensure(*, project_id: int, size_px: int, seed: int, log: Callable[[str], None] = logger.info) -> None:
    """Generate a synthetic H&E + IF pair and import it into the demo project if it has none yet."""
    log("synthetic pair generation not wired yet; the demo project has no slides")
