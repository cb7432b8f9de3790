"""Click-to-outline: one positive click (plus optional negative clicks) returns one cell polygon."""

from mlbackend.engine.interactive.click import ClickResult, segment_click

__all__ = ["ClickResult", "segment_click"]
