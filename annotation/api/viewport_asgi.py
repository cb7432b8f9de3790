"""The viewport read (`GET /api/annotations/?pair=&bbox=...`) answered beside Django, like tiles.

A pan asks for this more than anything else but tiles, and through Django it paid more for the request cycle
(middleware, DRF, a thread hop and four ORM queries) than for the query itself. This route answers the common case
on one pooled async connection in three round trips: the session row, one row with the user, the pair and the
role, then the viewport rows. It reuses the selectors' SQL (`filters_sql`, `capped_sql`, `Visibility`) and the
viewset's parameter parsing, so the answer is byte for byte the one Django would give.

It only answers when it is sure: an allowed Host, a live session whose user is active and whose auth hash matches
(signed by the current SECRET_KEY, ModelBackend), a project role, valid parameters, and a result that fits in
polygons or dots.
Everything else (no or stale session, not a member, bad input, the bins mode, another method, a database error,
another database vendor) goes to Django untouched, which gives the usual answer and error shape.
Answers carry `Server-Timing: db;dur=` (Django's start with `wait;dur=`), so a client and the tests can tell which
path served it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.http import QueryDict
from django.utils.crypto import constant_time_compare

from annotation.errors import DomainError
from annotation.models import Membership, Project, Role, SlidePair
from annotation.selectors.annotations import (
    Visibility,
    capped_body,
    capped_sql,
    features_or_points,
    filters_sql,
)

logger = logging.getLogger(__name__)

PATH = "/api/annotations/"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
SESSION_ENGINES = ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db")
POOL_MAX = 8  # per process; Django's own pool is separate
POOL_WAIT_S = 1.0  # no free connection this soon (database down, a burst): Django answers instead


def enabled() -> bool:
    """Only on PostgreSQL with database-backed sessions (the embedded SQLite demo goes through Django)."""
    db = settings.DATABASES["default"]
    return db["ENGINE"].endswith("postgresql") and settings.SESSION_ENGINE in SESSION_ENGINES


def _conninfo() -> dict:
    db = settings.DATABASES["default"]
    out = {"dbname": db["NAME"], "user": db.get("USER") or None, "password": db.get("PASSWORD") or None,
           "host": db.get("HOST") or None, "port": db.get("PORT") or None}
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout"):
        if key in db.get("OPTIONS", {}):
            out[key] = db["OPTIONS"][key]
    return {k: v for k, v in out.items() if v is not None}


class _Pool:
    """One psycopg async pool per worker process, opened on first use inside the server's event loop."""

    def __init__(self) -> None:
        self.pool = None
        self.lock = asyncio.Lock()

    async def get(self):
        if self.pool is None:
            async with self.lock:
                if self.pool is None:
                    from psycopg_pool import AsyncConnectionPool

                    pool = AsyncConnectionPool(kwargs={**_conninfo(), "autocommit": True}, min_size=1, max_size=POOL_MAX,
                                               timeout=5.0, open=False, name="viewport")
                    await pool.open()
                    self.pool = pool
        return self.pool

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None


@dataclass(frozen=True)
class _Who:
    user_id: int
    role: str
    project_id: int
    blind_mode: bool


def _cookie(scope, name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return v
    return None


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _session_user(session_data: str) -> tuple[int, str] | None:
    """(user id, auth hash) from a session signed with the current key, authenticated by ModelBackend; else None."""
    from django.contrib.sessions.backends.db import SessionStore

    data = SessionStore().decode(session_data)  # {} when the signature or payload is bad
    backend = data.get(BACKEND_SESSION_KEY)
    if backend != MODEL_BACKEND or backend not in settings.AUTHENTICATION_BACKENDS:
        return None
    try:
        return int(data[SESSION_KEY]), str(data[HASH_SESSION_KEY])
    except (KeyError, TypeError, ValueError):
        return None


def _hash_matches(user_id: int, password: str, session_hash: str) -> bool:
    """The session's hash against the current key only (a fallback key means Django must rotate the session)."""
    user = get_user_model()(pk=user_id, password=password)
    return constant_time_compare(session_hash, user.get_session_auth_hash())


@functools.cache
def _who_sql() -> str:
    user, pair, project, member = (get_user_model()._meta.db_table, SlidePair._meta.db_table, Project._meta.db_table,
                                   Membership._meta.db_table)
    return (
        f"SELECT u.password, u.is_active, u.is_staff, p.project_id, pr.blind_mode,"
        f" (SELECT m.role FROM {member} m WHERE m.project_id = p.project_id AND m.user_id = u.id ORDER BY m.id LIMIT 1)"
        f" FROM {user} u JOIN {pair} p ON p.id = %s JOIN {project} pr ON pr.id = p.project_id WHERE u.id = %s"
    )


async def _who(conn, scope, pair_id: int) -> _Who | None:
    key = _cookie(scope, settings.SESSION_COOKIE_NAME)
    if not key:
        return None
    cur = await conn.execute("SELECT session_data FROM django_session WHERE session_key = %s AND expire_date > now()", [key])
    found = await cur.fetchone()
    ident = _session_user(found[0]) if found else None
    if ident is None:
        return None
    cur = await conn.execute(_who_sql(), [pair_id, ident[0]])
    row = await cur.fetchone()
    if row is None:
        return None
    password, active, staff, project_id, blind, role = row
    if not active or not _hash_matches(ident[0], password, ident[1]):
        return None
    role = "admin" if staff else role
    if role is None:
        return None
    return _Who(user_id=ident[0], role=role, project_id=project_id, blind_mode=blind)


def _host_allowed(scope) -> bool:
    """Django's ALLOWED_HOSTS check on the Host header (a bad host goes to Django, which answers 400)."""
    from django.http.request import split_domain_port, validate_host

    host = _header(scope, b"host")
    if not host:
        return False
    domain, _ = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


def _secure_enough(scope) -> bool:
    """With SECURE_SSL_REDIRECT on, plain-http requests go to Django (which redirects them)."""
    if not settings.SECURE_SSL_REDIRECT or scope.get("scheme") == "https":
        return True
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        name = proxy[0].removeprefix("HTTP_").lower().replace("_", "-").encode()
        return _header(scope, name) == proxy[1]
    return False


HEADERS = [
    (b"content-type", b"application/json"),
    (b"vary", b"Accept, Cookie"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


def make_viewport_app(django_app):
    """Wrap the Django ASGI app: `GET /api/annotations/` is tried here first, everything else goes straight on."""
    if not enabled():
        return django_app
    from annotation.api.annotations import viewport_query
    from config.metrics import REQUEST_SECONDS
    from config.middleware import CSP

    pool = _Pool()
    headers = [*HEADERS, (b"content-security-policy", CSP.encode())]
    if settings.SECURE_HSTS_SECONDS:
        headers.append((b"strict-transport-security", f"max-age={settings.SECURE_HSTS_SECONDS}".encode()))

    async def answer(scope) -> tuple[bytes, float] | None:
        try:
            query = viewport_query(QueryDict(scope.get("query_string", b"").decode("latin-1")))
        except DomainError:
            return None
        modes = features_or_points(query)
        if not modes:
            return None
        started = time.perf_counter()
        async with (await pool.get()).connection(timeout=POOL_WAIT_S) as conn:
            who = await _who(conn, scope, query.pair_id)
            if who is None:
                return None
            blind = who.blind_mode and who.role == Role.ANNOTATOR.value
            visibility = Visibility(project_id=who.project_id, own_only_user_id=who.user_id if blind else None)
            where, params = filters_sql(query, visibility)
            for mode, element, cap in modes:
                cur = await conn.execute(capped_sql(where, element, cap), params)
                texts = [r[0] for r in await cur.fetchall()]
                if len(texts) <= cap:
                    return capped_body(mode, texts), time.perf_counter() - started
        return None

    async def app(scope, receive, send):
        if not (scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET" and _secure_enough(scope)
                and _host_allowed(scope)):
            await django_app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            found = await answer(scope)
        except Exception:  # database down, pool timeout...: Django answers (503 with the usual shape)
            logger.warning("lean viewport route failed; handing the request to Django", exc_info=True)
            found = None
        if found is None:
            await django_app(scope, receive, send)
            return
        body, db_s = found
        rid = (_header(scope, b"x-request-id") or uuid.uuid4().hex)[:64]
        await send({"type": "http.response.start", "status": 200, "headers": [
            *headers, (b"content-length", str(len(body)).encode()), (b"x-request-id", rid.encode()),
            (b"server-timing", f"db;dur={db_s * 1000:.1f}".encode()),
        ]})
        await send({"type": "http.response.body", "body": body})
        REQUEST_SECONDS.labels(route="api/annotations/ (lean)", method="GET", status="200").observe(
            time.perf_counter() - started)

    return app
