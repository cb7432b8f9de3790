"""Security, in-process: CSRF on every unsafe API operation, slide files never served raw, uploads, audit rows."""

from __future__ import annotations

import re
import shutil
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import AuditEvent, Slide
from mlbackend.models import ModelVersion
from tests.annotation.slide_support import he_tiff, make_project, slide_store

pytestmark = pytest.mark.django_db
__all__ = ["slide_store"]
UNSAFE = ("post", "put", "patch", "delete")


def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _concrete(path: str) -> str:
    """The path with each parameter replaced by the first value (int, uuid, word) the URLconf accepts."""
    from django.urls import Resolver404, resolve

    for value in ("1", str(uuid.uuid4()), "x"):
        url = re.sub(r"\{[^}]+\}", value, path)
        try:
            resolve(url)
            return url
        except Resolver404:
            continue
    return path


def _unsafe_operations() -> list[tuple[str, str]]:
    ops = []
    for path, item in _schema()["paths"].items():
        for method in item:
            if method in UNSAFE:
                ops.append((method, _concrete(path)))
    return ops


def test_every_unsafe_api_operation_refuses_a_session_request_without_the_csrf_token(user_factory):
    staff = user_factory(is_staff=True, is_superuser=True)
    bare = Client(enforce_csrf_checks=True)
    bare.force_login(staff)
    ops = _unsafe_operations()
    assert len(ops) >= 30  # the whole API, not a sample
    refused = []
    for method, url in ops:
        r = getattr(bare, method)(url, data={}, content_type="application/json")
        if r.status_code == 403 and "CSRF" in r.json().get("detail", ""):
            refused.append(url)
        else:
            pytest.fail(f"{method.upper()} {url} without a CSRF token answered {r.status_code}: {r.content[:200]!r}")
    assert len(refused) == len(ops)
    # the same requests with the token pass the CSRF check (whatever the view then says)
    bare.get(reverse("login"))
    token = bare.cookies["csrftoken"].value
    for method, url in ops[:10]:
        r = getattr(bare, method)(url, data={}, content_type="application/json", headers={"X-CSRFToken": token})
        assert not (r.status_code == 403 and "CSRF" in r.content.decode()), (method, url)


def test_login_and_logout_forms_need_the_csrf_token(user_factory):
    user_factory(username="csrf-user")
    bare = Client(enforce_csrf_checks=True)
    assert bare.post(reverse("login"), {"username": "csrf-user", "password": "pw-for-tests-123"}).status_code == 403
    assert bare.post(reverse("logout")).status_code == 403


def _candidate_urls(slide: Slide) -> list[str]:
    rel = slide.file_path
    name = rel.rsplit("/", 1)[-1]
    urls = [f"/media/{rel}", f"/static/{rel}", f"/slides/{rel}", f"/{rel}", f"/media/../slides/{rel}",
            f"/static/../../{rel}", f"/api/slides/{slide.id}/file/", f"/api/slides/{slide.id}/download/",
            f"/api/slides/{slide.id}/raw/", f"/api/slides/{slide.id}/images/{name}/", f"/api/slides/{slide.id}/images/../../{name}"]
    for path, item in _schema()["paths"].items():
        if "get" in item and "{" in path:
            urls.append(_concrete(path).replace("/1/", f"/{slide.id}/"))
    return urls


def test_no_url_returns_the_bytes_of_a_slide_file(slide_store, user_factory, client, tmp_path):
    from tests.annotation.slide_support import add_slide

    ctx = make_project(user_factory)
    slide = add_slide(ctx["project"], he_tiff(tmp_path, 300, 400))
    assert slide.status == Slide.Status.READY
    raw = (slide_store / slide.file_path).read_bytes()
    excerpts = [raw[i:i + 64] for i in (len(raw) // 3, len(raw) // 2, len(raw) - 200)]
    staff = user_factory(is_staff=True, is_superuser=True)
    checked = 0
    for who in (ctx["manager"], staff):
        client.force_login(who)
        for url in _candidate_urls(slide):
            r = client.get(url)
            body = b"".join(r.streaming_content) if r.streaming else r.content
            assert not any(e in body for e in excerpts), f"{url} served slide bytes"
            checked += 1
    assert checked > 20
    # the thumbnail is served, but re-encoded (PNG), never the file
    thumb = client.get(f"/api/slides/{slide.id}/thumbnail/")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/png"


def test_upload_refuses_oversize_non_slides_and_keeps_a_traversing_filename_inside_the_store(
        slide_store, user_factory, client, settings, tmp_path):
    ctx = make_project(user_factory)
    client.force_login(ctx["manager"])
    settings.UPLOAD_MAX_BYTES = 10_000
    body = {"project": ctx["project"].id, "filename": "x.svs", "size": 10_001}
    assert client.post("/api/uploads/", body, content_type="application/json").status_code == 413
    settings.UPLOAD_MAX_BYTES = 50 * 1024 * 1024
    junk = b"%PDF-1.7 not a slide" * 50
    uid = client.post("/api/uploads/", {**body, "size": len(junk)}, content_type="application/json").json()["id"]
    r = client.put(f"/api/uploads/{uid}/", data=junk, content_type="application/octet-stream",
                   headers={"Content-Range": f"bytes 0-{len(junk) - 1}/{len(junk)}"})
    assert r.status_code == 415 and r.json()["code"] == "unsupported_file"

    data = he_tiff(tmp_path, 100, 120).read_bytes()
    evil = "../../../../tmp/evil-" + uuid.uuid4().hex[:6] + ".tif"
    up = client.post("/api/uploads/", {"project": ctx["project"].id, "filename": evil, "size": len(data)},
                     content_type="application/json")
    assert up.status_code in (201, 400), up.content
    if up.status_code == 201:
        uid = up.json()["id"]
        r = client.put(f"/api/uploads/{uid}/", data=data, content_type="application/octet-stream",
                       headers={"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"})
        assert r.status_code == 200, r.content
        done = client.post(f"/api/uploads/{uid}/complete/")
        assert done.status_code == 202, done.content
        slide = Slide.objects.get(id=done.json()["slide"]["id"])
        stored = (slide_store / slide.file_path).resolve()
        assert stored.is_relative_to(slide_store.resolve()) and ".." not in slide.file_path
    leaked = [p for p in (tmp_path.parent, slide_store.parent) for p in p.glob("evil-*")]
    assert not leaked and not list(__import__("pathlib").Path("/tmp").glob(evil.rsplit("/", 1)[-1]))


def test_model_promotion_through_the_api_leaves_an_audit_row_naming_the_admin(user_factory, client):
    ctx = make_project(user_factory)
    admin = user_factory(is_staff=True)
    version = ModelVersion.objects.create(project=ctx["project"], number=1, status="ready", metrics={"score": 0.5})
    client.force_login(admin)
    r = client.post(f"/api/ml/versions/{version.id}/promote/", {"force": True}, content_type="application/json")
    assert r.status_code == 200, r.content
    event = AuditEvent.objects.get(action="model.promote", target=f"model_version:{version.id}")
    assert event.actor_id == admin.id and event.project_id == ctx["project"].id


def test_exports_leave_an_audit_row_naming_who_exported_what(user_factory, client):
    ctx = make_project(user_factory)
    client.force_login(ctx["manager"])
    r = client.get(reverse("export-project-geojson", args=[ctx["project"].id]))
    assert r.status_code == 200
    b"".join(r.streaming_content) if r.streaming else r.content
    event = AuditEvent.objects.get(project=ctx["project"], actor=ctx["manager"], action__contains="export")
    assert "geojson" in str(event.detail) + event.action + event.target


_ = shutil
