"""Domain errors: each carries a stable `code` and an HTTP status; config.api maps them to responses."""

from __future__ import annotations


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, detail: str = "", *, extra: dict | None = None, code: str | None = None):
        super().__init__(detail or self.__class__.__doc__ or self.code)
        self.extra = extra or {}
        if code:
            self.code = code


class NotFound(DomainError):
    """Not found."""

    code = "not_found"
    status = 404


class PermissionDenied(DomainError):
    """You do not have permission for this action."""

    code = "permission_denied"
    status = 403


class InvalidInput(DomainError):
    """Invalid input."""

    code = "invalid"
    status = 400


class InvalidGeometry(InvalidInput):
    """Invalid geometry."""

    code = "invalid_geometry"


class InvalidTransition(DomainError):
    """This status change is not allowed from the current state."""

    code = "invalid_transition"
    status = 409


class VersionConflict(DomainError):
    """The object changed since you loaded it."""

    code = "version_conflict"
    status = 409


class PayloadTooLarge(DomainError):
    """The request is too large."""

    code = "payload_too_large"
    status = 413


class SlideError(DomainError):
    """The slide cannot be read."""

    code = "slide_error"
    status = 422
