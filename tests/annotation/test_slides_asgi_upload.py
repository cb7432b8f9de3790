"""A multi-chunk upload with full-size (8 MiB) chunks through the real ASGI server, as a browser sends it."""

from __future__ import annotations

import httpx
import pytest

from annotation.models import Membership, Project, Slide
from annotation.services.uploads import CHUNK_MAX_BYTES
from tests.annotation.slide_support import slide_store
from tests.support.procs import asgi_server

__all__ = ["slide_store"]


def _login(http: httpx.Client, username: str, password: str) -> str:
    http.get("/accounts/login/")
    token = http.cookies["csrftoken"]
    r = http.post("/accounts/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token})
    assert r.status_code == 302
    return http.cookies["csrftoken"]


@pytest.mark.django_db(transaction=True)
def test_full_size_chunks_upload_through_uvicorn(slide_store, user_factory):
    project = Project.objects.create(name="asgi")
    manager = user_factory(password="pw-for-tests-123")
    Membership.objects.create(project=project, user=manager, role="manager")
    data = b"II*\x00" + bytes(range(256)) * ((2 * CHUNK_MAX_BYTES + 1000) // 256)
    with asgi_server() as base, httpx.Client(base_url=base, timeout=60, headers={"Referer": base}) as http:
        csrf = _login(http, manager.username, "pw-for-tests-123")
        headers = {"X-CSRFToken": csrf}
        r = http.post("/api/uploads/", json={"project": project.id, "filename": "big.tif", "size": len(data)},
                      headers=headers)
        assert r.status_code == 201, r.text
        uid = r.json()["id"]
        for start in range(0, len(data), CHUNK_MAX_BYTES):
            end = min(start + CHUNK_MAX_BYTES, len(data)) - 1
            put = http.put(f"/api/uploads/{uid}/", content=data[start : end + 1],
                           headers=headers | {"Content-Range": f"bytes {start}-{end}/{len(data)}"})
            assert put.status_code == 200, put.text
        assert http.get(f"/api/uploads/{uid}/").json()["received"] == len(data)
        done = http.post(f"/api/uploads/{uid}/complete/", headers=headers)
        assert done.status_code == 202, done.text
    slide = Slide.objects.get(id=done.json()["slide"]["id"])
    assert (slide_store / slide.file_path).read_bytes() == data
