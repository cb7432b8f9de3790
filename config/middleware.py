"""Request id and Content-Security-Policy middleware."""

from __future__ import annotations

import logging
import time
import uuid

from django.conf import settings

from config.logs import request_id_var

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'; object-src 'none'"
)


class RequestIdMiddleware:
    """Tag every request (and its log lines) with an id, echoed in the X-Request-ID header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        token = request_id_var.set(rid[:64])
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = rid[:64]
        return response


class ServerTimingMiddleware:
    """`Server-Timing: wait;dur=, app;dur=, db;dur=` on every response (milliseconds).

    `wait` is from the ASGI app receiving the request (`stamp_asgi`) to this middleware running, i.e. time spent
    queued for a worker thread; `app` is the rest of the request in Django; `db` the part of `app` spent in
    queries. Browser devtools and the load benchmark read it to tell queueing from work.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.db import connection

        started = time.perf_counter()
        db = [0.0]

        def timed(execute, sql, params, many, context):
            t0 = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                db[0] += time.perf_counter() - t0

        with connection.execute_wrapper(timed):
            response = self.get_response(request)
        done = time.perf_counter()
        parts = []
        received = getattr(request, "scope", {}).get(STAMP)
        if received is not None:
            parts.append(f"wait;dur={(started - received) * 1000:.1f}")
        parts.append(f"app;dur={(done - started) * 1000:.1f}")
        parts.append(f"db;dur={db[0] * 1000:.1f}")
        response.setdefault("Server-Timing", ", ".join(parts))
        return response


STAMP = "laypath.received"


def stamp_asgi(app):
    """Note when the ASGI app got the request (perf_counter, same process), for ServerTimingMiddleware's `wait`;
    and tell the event helpers which loop serves requests (pushes from request threads are queued on it)."""
    remembered: list = []

    from annotation.events import remember_server_loop

    async def stamped(scope, receive, send):
        if not remembered:
            remember_server_loop()
            remembered.append(True)
        if scope["type"] == "http":
            scope = {**scope, STAMP: time.perf_counter()}
        await app(scope, receive, send)

    return stamped


class ContentSecurityPolicyMiddleware:
    """Send a strict CSP (no inline scripts) unless a view set its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not getattr(settings, "DEBUG_DISABLE_CSP", False):
            response.setdefault("Content-Security-Policy", CSP)
        response.setdefault("Referrer-Policy", "same-origin")
        return response


class DatabaseUnavailableMiddleware:
    """A page (not an API view) hit by a database outage answers a plain 503 with Retry-After, not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.db import DatabaseError
        from django.http import HttpResponse, JsonResponse

        if not isinstance(exception, DatabaseError):
            return None
        logging.getLogger(__name__).exception("database unavailable")
        if request.path.startswith("/api/"):
            response = JsonResponse({"code": "service_unavailable", "detail": "The database is unavailable; retry shortly."},
                                    status=503)
        else:
            response = HttpResponse("<!doctype html><title>Laypath is briefly unavailable</title>"
                                    "<p>The database is unavailable; this page will work again shortly.</p>", status=503)
        response["Retry-After"] = "5"
        return response
