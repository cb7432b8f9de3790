"""A child server with production settings (DEBUG off, HTTPS behind a proxy, axes on): headers, cookies, lockout,
and tile tokens that point outside SLIDE_ROOT."""

from __future__ import annotations

import httpx
import pytest

from annotation.imaging.tokens import TileSpec, sign_tile_token
from tests.support.procs import asgi_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SECRET = "prod-like-secret-" + "k" * 40
LIMIT = 3


def _login(http: httpx.Client, base: str, username: str, password: str) -> httpx.Response:
    page = http.get("/accounts/login/")
    token = page.cookies.get("csrftoken") or http.cookies.get("csrftoken")
    return http.post("/accounts/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                     headers={"Origin": "https://" + base.split("://")[1], "Referer": "https://" + base.split("://")[1] + "/accounts/login/",
                              "Cookie": f"csrftoken={token}"})


def test_production_server_sends_security_headers_secure_cookies_and_locks_out_password_guessing(user_factory):
    user_factory(username="victim", password="right-password-123")
    user_factory(username="good", password="right-password-123")
    env = {"DEBUG": "0", "SECRET_KEY": SECRET, "SECURE_HTTPS": "1", "AXES_ENABLED": "1", "AXES_FAILURE_LIMIT": str(LIMIT)}
    with asgi_server(env) as base:
        plain = httpx.get(f"{base}/accounts/login/")
        assert plain.status_code == 301 and plain.headers["location"].startswith("https://")
        http = httpx.Client(base_url=base, headers={"X-Forwarded-Proto": "https"}, timeout=30)
        page = http.get("/accounts/login/")
        assert page.status_code == 200
        assert "max-age=" in page.headers["strict-transport-security"]
        assert "default-src" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
        assert "secure" in page.headers["set-cookie"].lower()

        ok = _login(http, base, "good", "right-password-123")
        assert ok.status_code == 302, ok.text[:300]
        session_cookie = next(c for c in ok.headers.get_list("set-cookie") if c.startswith("sessionid="))
        assert "secure" in session_cookie.lower() and "httponly" in session_cookie.lower()

        guesses = [_login(httpx.Client(base_url=base, headers={"X-Forwarded-Proto": "https"}), base, "victim", f"wrong-{i}")
                   for i in range(LIMIT)]
        assert all(g.status_code in (200, 429, 403) for g in guesses)
        locked = _login(httpx.Client(base_url=base, headers={"X-Forwarded-Proto": "https"}), base, "victim", "right-password-123")
        assert locked.status_code in (403, 429), locked.status_code  # even the right password is refused now
        assert not any(c.startswith("sessionid=") for c in locked.headers.get_list("set-cookie"))

        for path in ("../../../../etc/passwd", "/etc/passwd"):
            token = sign_tile_token(TileSpec("brightfield", (path,), ("f1:0",)), SECRET, 600)
            r = http.get(f"/tiles/{token}/slide.dzi")
            assert r.status_code in (403, 404) and "root:" not in r.text
