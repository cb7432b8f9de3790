"""The lean viewport route (annotation.api.viewport_asgi) through a real uvicorn: same answers as Django, and every
case it is not sure of (no session, stale hash, not a member, bad input, bins mode) is left to Django."""

from __future__ import annotations

import uuid

import httpx
import orjson
import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from annotation.models import Annotation
from annotation.selectors import annotations as sel
from tests.support.procs import asgi_server

pytestmark = pytest.mark.django_db(transaction=True)
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _session(user, backend: str = MODEL_BACKEND) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = backend
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


def _rows(world, n: int, author, source="human", x0=0.0, task=True) -> list[Annotation]:
    rows = []
    for i in range(n):
        x, y = x0 + i * 10.0, 20.0
        ring = [[x, y], [x + 4, y], [x + 4, y + 3], [x, y + 3], [x, y]]
        rows.append(Annotation(
            id=uuid.uuid4(), project=world.project, pair=world.pair, task=world.task if task else None,
            label_class=world.classes[i % 2], geom_type="Polygon", geometry={"type": "Polygon", "coordinates": [ring]},
            min_x=x, min_y=y, max_x=x + 4, max_y=y + 3, cx=x + 2, cy=y + 1.5, source=source, author=author,
            status="proposed" if source == "model" else "none", confidence=0.75 if source == "model" else None,
        ))
    return Annotation.objects.bulk_create(rows)


def _lean(base: str, url: str, session_key: str | None) -> httpx.Response:
    cookies = {settings.SESSION_COOKIE_NAME: session_key} if session_key else {}
    with httpx.Client(base_url=base, cookies=cookies, timeout=30) as http:
        return http.get(url)


def _django(user, url: str):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(url)


def _by_id(body: dict) -> dict:
    key = "features" if body["mode"] == "features" else "points"
    return {(f["id"] if key == "features" else f[0]): f for f in body[key]}


def test_lean_route_answers_like_django_for_each_role(world):
    mine = _rows(world, 3, world.ann1)
    _rows(world, 4, world.ann2, x0=35)
    proposals = _rows(world, 2, None, source="model", x0=80, task=False)
    urls = [f"/api/annotations/?pair={world.pair.id}&bbox=0,0,2000,2000",
            f"/api/annotations/?pair={world.pair.id}&bbox=0,0,2000,2000&zoom={sel.ZOOM_POINTS}",
            f"/api/annotations/?pair={world.pair.id}&bbox=30,0,2000,2000&task={world.task.id}&label_class={world.classes[0].id}"]
    with asgi_server() as base:
        for user in (world.manager, world.reviewer, world.ann1, world.ann2, world.admin):
            key = _session(user)
            for url in urls:
                lean = _lean(base, url, key)
                assert lean.status_code == 200, lean.text
                assert lean.headers["server-timing"].startswith("db;dur=")  # served by the lean route
                assert lean.headers["x-content-type-options"] == "nosniff" and "Cookie" in lean.headers["vary"]
                expected = _django(user, url)
                assert expected.status_code == 200 and expected.headers["server-timing"].startswith("app;dur=")
                got, want = orjson.loads(lean.content), orjson.loads(expected.content)
                assert got["mode"] == want["mode"] and got["count"] == want["count"]
                assert _by_id(got) == _by_id(want)
        seen = _by_id(orjson.loads(_lean(base, urls[0], _session(world.ann1)).content))
        assert set(seen) == {str(r.id) for r in mine + proposals}  # blind mode: own labels and open proposals
        assert orjson.loads(_lean(base, urls[0], _session(world.manager)).content)["count"] == 9


def test_lean_route_leaves_every_refusal_and_the_bins_mode_to_django(world):
    _rows(world, 3, world.ann1)
    url = f"/api/annotations/?pair={world.pair.id}&bbox=0,0,2000,2000"
    with asgi_server() as base:
        anonymous = _lean(base, url, None)
        assert anonymous.status_code == 403 and anonymous.json()["code"] == "not_authenticated"
        assert _lean(base, url, "not-a-session").status_code == 403

        outsider = _lean(base, url, _session(world.outsider))  # a manager, but of another project
        assert outsider.status_code == 404 and outsider.headers["server-timing"].startswith("wait;dur=")
        other_pair = _lean(base, f"/api/annotations/?pair={world.other_pair.id}&bbox=0,0,9,9", _session(world.ann1))
        assert other_pair.status_code == 404

        stale = _session(world.ann1)
        world.ann1.set_password("changed-password-123")  # logs every session of this user out
        world.ann1.save()
        assert _lean(base, url, stale).status_code == 403

        key = _session(world.ann2)
        world.ann2.is_active = False
        world.ann2.save()
        assert _lean(base, url, key).status_code == 403

        key = _session(world.reviewer)
        SessionStore(session_key=key).delete()  # logged out
        assert _lean(base, url, key).status_code == 403

        key = _session(world.manager)
        bad = _lean(base, f"/api/annotations/?pair={world.pair.id}&bbox=1,2,3", key)
        assert bad.status_code == 400 and bad.json()["code"] == "invalid"
        bins = _lean(base, f"{url}&zoom={sel.ZOOM_BINS}", key)
        assert bins.status_code == 200 and bins.json()["mode"] == "bins" and not bins.headers["server-timing"].startswith("db")
        parts = dict(p.strip().split(";dur=") for p in bins.headers["server-timing"].split(","))  # Django's own split
        assert set(parts) == {"wait", "app", "db"} and 0 <= float(parts["db"]) <= float(parts["app"])
        evil = httpx.get(f"{base}{url}", cookies={settings.SESSION_COOKIE_NAME: key}, headers={"Host": "evil.example"})
        assert evil.status_code == 400 and not evil.headers.get("server-timing", "").startswith("db")  # Django says 400
        post = httpx.post(f"{base}/api/annotations/", cookies={settings.SESSION_COOKIE_NAME: key})
        assert post.status_code in (403, 405) and post.headers["server-timing"].startswith("wait;dur=")
