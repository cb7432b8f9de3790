"""ML backend services (the periodic retraining check grows here with the ML issue)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def retrain_check_run() -> dict:
    """Decide whether a retraining is due; until the ML loop lands, it never is."""
    return {"due": False, "reason": "no training pipeline configured"}
