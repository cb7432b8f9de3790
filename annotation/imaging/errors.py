"""Errors raised by the imaging layer (the tile server maps them to HTTP statuses)."""

from __future__ import annotations


class ImagingError(Exception):
    """Base class of every error the imaging layer raises on purpose."""


class SlideReadError(ImagingError):
    """A slide file is corrupt, truncated, unsupported or unreadable; ``reason`` says which, in words."""

    def __init__(self, reason: str, path: str | None = None) -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{reason} ({path})" if path else reason)


class TileNotFound(ImagingError):
    """A deep-zoom level, column or row outside the pyramid (HTTP 404)."""


class RenderSettingsError(ImagingError, ValueError):
    """A render-settings string that does not parse or does not fit the slide (HTTP 400)."""


class TokenError(ImagingError):
    """A tile token with a bad signature, bad shape or past its expiry (HTTP 403)."""
