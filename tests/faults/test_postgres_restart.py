"""PostgreSQL restarted under a live server (a private cluster): clear 503s while down, recovery, no lost writes."""

from __future__ import annotations

import uuid

import httpx
import pytest
from django.test import Client

from annotation.geometry import box_polygon
from annotation.models import LabelClass, Membership, Project, Task
from tests.annotation.conftest import make_pair, make_user
from tests.faults.private_services import PG_BIN, private_postgres
from tests.faults.support import wait_for
from tests.support.procs import asgi_server, child_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="PostgreSQL 15 server binaries not installed")]
CSRF = "f" * 32


def _world() -> dict:
    manager = make_user("pg-manager")
    project = Project.objects.create(name="pg-restart")
    Membership.objects.create(project=project, user=manager, role="manager")
    pair = make_pair(project)
    cls = LabelClass.objects.create(project=project, name="cell")
    task = Task.objects.create(project=project, pair=pair, region=box_polygon(0, 0, 5000, 5000), min_x=0, min_y=0,
                               max_x=5000, max_y=5000)
    browser = Client()
    browser.force_login(manager)  # the session row is copied into the private cluster with the rest
    return {"pair": pair.id, "task": task.id, "cls": cls.id, "session": browser.cookies["sessionid"].value}


def _batch(world: dict, n: int) -> dict:
    return {"items": [{"op": "upsert", "id": str(uuid.uuid4()), "version": 0, "pair": world["pair"], "task": world["task"],
                       "label_class": world["cls"], "geometry": {"type": "Point", "coordinates": [100.0 + i, 200.0]}}
                      for i in range(n)]}


def _count(pg_url: str, ids: list[str]) -> dict[str, int]:
    import psycopg

    with psycopg.connect(pg_url.replace("postgres://", "postgresql://")) as conn:
        rows = conn.execute("SELECT id::text, count(*) FROM annotation_annotation WHERE id::text = ANY(%s) GROUP BY id",
                            (ids,)).fetchall()
    return dict(rows)


def test_requests_get_a_clear_503_while_postgres_is_down_and_the_save_queue_delivers_once_it_returns():
    world = _world()
    source = child_env()["DATABASE_URL"]
    with private_postgres(source) as pg, asgi_server({"DATABASE_URL": pg.url()}) as base:
        http = httpx.Client(base_url=base, timeout=30, cookies={"sessionid": world["session"], "csrftoken": CSRF},
                            headers={"X-CSRFToken": CSRF})
        acked = _batch(world, 3)
        assert http.post("/api/annotations/bulk/", json=acked).status_code == 200
        assert http.get("/").status_code == 200
        view = f"/api/annotations/?pair={world['pair']}&bbox=0,0,1000,1000"
        lean = http.get(view)
        assert lean.status_code == 200 and lean.json()["count"] == 3 and lean.headers["server-timing"].startswith("db")

        pg.stop()
        refused = http.get(view)  # the lean route's pool fails; Django answers with the same clear 503
        assert refused.status_code == 503 and refused.json()["code"] == "service_unavailable"
        queued = _batch(world, 4)  # the browser's save queue holds this batch until a save succeeds
        down = http.post("/api/annotations/bulk/", json=queued)
        assert down.status_code == 503, down.text
        assert down.json()["code"] == "service_unavailable" and down.headers["Retry-After"]
        page = http.get("/")
        assert page.status_code == 503 and "<h1>Server Error" not in page.text
        health = http.get("/healthz")
        assert health.status_code == 503 and health.json()["database"]["ok"] is False

        pg.start()
        retried = wait_for(lambda: (r := http.post("/api/annotations/bulk/", json=queued)).status_code == 200 and r,
                           timeout_s=60, what="the bulk endpoint to recover")
        assert [x["result"] for x in retried.json()["results"]] == ["created"] * 4
        again = http.post("/api/annotations/bulk/", json=queued)  # the answer was lost: the queue sends it again
        assert again.status_code == 200 and {x["result"] for x in again.json()["results"]} == {"unchanged"}
        assert http.get("/").status_code == 200
        back = wait_for(lambda: (r := http.get(view)).status_code == 200 and r.headers["server-timing"].startswith("db") and r,
                        timeout_s=60, what="the lean viewport route to reconnect")
        assert back.json()["count"] == 7
        counts = _count(pg.url(), [i["id"] for i in acked["items"] + queued["items"]])
        assert counts == {i["id"]: 1 for i in acked["items"] + queued["items"]}  # exactly one row each, none lost
