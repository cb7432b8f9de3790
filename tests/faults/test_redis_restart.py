"""Redis (a private server) restarted under a live session: health degrades and recovers, websockets reconnect
and receive events again, and no acknowledged annotation write is lost."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.sync.client import connect

from annotation.models import Annotation
from annotation.services.system import heartbeat_write
from tests.faults.private_services import private_redis
from tests.faults.support import wait_for
from tests.faults.test_postgres_restart import CSRF, _batch, _world
from tests.support.procs import asgi_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _events(base: str, session: str, project: int):
    ws = connect(base.replace("http", "ws") + "/ws/events/", additional_headers={"Cookie": f"sessionid={session}",
                                                                                   "Origin": base}, open_timeout=30)
    assert json.loads(ws.recv(timeout=30))["event"] == "hello"
    ws.send(json.dumps({"subscribe": project}))
    assert json.loads(ws.recv(timeout=30))["event"] == "subscribed"
    return ws


def _next_change(ws) -> dict:
    while True:
        message = json.loads(ws.recv(timeout=30))
        if message["event"] == "annotations.changed":
            return message["data"]


def _health(http: httpx.Client) -> str:
    heartbeat_write(hostname="fault-test-worker", queues=["default"])  # a live worker, so only Redis decides
    return http.get("/healthz").json()["status"]


def test_web_and_websockets_recover_after_redis_restarts_and_no_acknowledged_write_is_lost():
    world = _world()
    project = __import__("annotation.models", fromlist=["Task"]).Task.objects.get(id=world["task"]).project_id
    with private_redis() as redis_server, asgi_server({"REDIS_URL": redis_server.url, "TILE_CACHE_URL": redis_server.url}) as base:
        http = httpx.Client(base_url=base, timeout=30, cookies={"sessionid": world["session"], "csrftoken": CSRF},
                            headers={"X-CSRFToken": CSRF})
        assert _health(http) == "ok"
        ws = _events(base, world["session"], project)
        first = _batch(world, 2)
        assert http.post("/api/annotations/bulk/", json=first).status_code == 200
        assert set(_next_change(ws)["ids"]) == {i["id"] for i in first["items"]}

        redis_server.stop()
        assert _health(http) == "degraded"
        during = _batch(world, 3)
        saved = http.post("/api/annotations/bulk/", json=during)
        acked = [first] + ([during] if saved.status_code == 200 else [])
        assert saved.status_code in (200, 503), saved.text[:300]  # acknowledged, or clearly refused: never a 500
        ws.close()

        redis_server.start()
        wait_for(lambda: _health(http) == "ok", timeout_s=60, what="health to recover")
        ws = wait_for(lambda: _try(lambda: _events(base, world["session"], project)), timeout_s=60, what="reconnect")
        after = _batch(world, 2)
        assert http.post("/api/annotations/bulk/", json=after).status_code == 200
        assert set(_next_change(ws)["ids"]) == {i["id"] for i in after["items"]}
        ws.close()
        acked.append(after)
    ids = [i["id"] for batch in acked for i in batch["items"]]
    assert Annotation.objects.filter(id__in=ids).count() == len(ids)


def _try(fn):
    try:
        return fn()
    except Exception:
        return None
