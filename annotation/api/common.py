"""Small helpers shared by the ViewSets."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination

from annotation.errors import InvalidInput


def int_param(params, name: str, required: bool = False) -> int | None:
    """An integer query parameter (400 `invalid` if malformed, or missing when required)."""
    raw = params.get(name)
    if raw in (None, ""):
        if required:
            raise InvalidInput(f"The {name} parameter is required.")
        return None
    try:
        return int(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be an integer.") from exc


def float_param(params, name: str, default: float) -> float:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be a number.") from exc
    if not value > 0 or value == float("inf"):
        raise InvalidInput(f"{name} must be a positive number.")
    return value


class Pagination(LimitOffsetPagination):
    """`?limit=&offset=` (default 100, at most 1,000); `page_size=` is accepted as another name for limit."""

    max_limit = 1000

    def get_limit(self, request) -> int | None:
        if self.limit_query_param not in request.query_params and "page_size" in request.query_params:
            try:
                return min(max(int(request.query_params["page_size"]), 1), self.max_limit)
            except ValueError:
                return self.default_limit
        return super().get_limit(request)
