"""Browser uploads (chunked, resumable, sniffed, size-limited) and imports from the server folder."""

from __future__ import annotations

import os

import pytest

from annotation.models import Job, Slide
from tests.annotation.slide_support import he_tiff, make_project, slide_store

pytestmark = pytest.mark.django_db
__all__ = ["slide_store"]
CHUNK = 8_000


def _start(client, project, data: bytes, name: str = "he.tif"):
    r = client.post("/api/uploads/", {"project": project.id, "filename": name, "size": len(data)},
                    content_type="application/json")
    assert r.json()["size"] == len(data)
    assert r.status_code == 201, r.content
    return r.json()["id"]


def _put(client, upload_id: str, data: bytes, start: int, end: int):
    return client.put(f"/api/uploads/{upload_id}/", data=data[start : end + 1], content_type="application/octet-stream",
                      headers={"Content-Range": f"bytes {start}-{end}/{len(data)}"})


def test_chunked_upload_resumes_and_completes_into_a_pending_slide(slide_store, user_factory, client, tmp_path):
    ctx = make_project(user_factory)
    client.force_login(ctx["manager"])
    data = he_tiff(tmp_path, 300, 400).read_bytes()
    uid = _start(client, ctx["project"], data)
    first = _put(client, uid, data, 0, CHUNK - 1)
    assert first.status_code == 200, first.content
    assert first.json()["received"] == CHUNK
    # the connection "drops": a chunk that skips ahead is refused with the offset to resume from
    skipped = _put(client, uid, data, 2 * CHUNK, 3 * CHUNK - 1)
    assert skipped.status_code == 409 and skipped.json()["received"] == CHUNK
    resume_at = client.get(f"/api/uploads/{uid}/").json()["received"]
    assert resume_at == CHUNK
    for start in range(resume_at, len(data), CHUNK):
        r = _put(client, uid, data, start, min(start + CHUNK, len(data)) - 1)
        assert r.status_code == 200, r.content
    assert client.get(f"/api/uploads/{uid}/").json()["complete"] is True
    done = client.post(f"/api/uploads/{uid}/complete/")
    assert done.status_code == 202, done.content
    slide = Slide.objects.get(id=done.json()["slide"]["id"])
    assert slide.status == Slide.Status.PENDING and slide.project == ctx["project"]
    stored = slide_store / slide.file_path
    assert stored.read_bytes() == data and "uploads" not in slide.file_path
    assert Job.objects.filter(id=done.json()["job"], kind="ingest").exists()
    assert client.post(f"/api/uploads/{uid}/complete/").json()["slide"]["id"] == slide.id  # idempotent


def test_non_slide_upload_is_refused_on_its_first_chunk(slide_store, user_factory, client):
    ctx = make_project(user_factory)
    client.force_login(ctx["manager"])
    data = b"<html><body>not a slide</body></html>" * 20
    uid = _start(client, ctx["project"], data, "fake.svs")
    r = _put(client, uid, data, 0, len(data) - 1)
    assert r.status_code == 415 and r.json()["code"] == "unsupported_file"
    assert "not a slide file" in r.json()["detail"]
    assert client.get(f"/api/uploads/{uid}/").status_code == 404  # discarded


def test_upload_beyond_limit_and_oversized_chunks_get_413(slide_store, user_factory, client, settings):
    ctx = make_project(user_factory)
    client.force_login(ctx["manager"])
    settings.UPLOAD_MAX_BYTES = 1000
    r = client.post("/api/uploads/", {"project": ctx["project"].id, "filename": "big.svs", "size": 1001},
                    content_type="application/json")
    assert r.status_code == 413
    settings.UPLOAD_MAX_BYTES = 100 * 1024 * 1024
    size = 20 * 1024 * 1024
    uid = client.post("/api/uploads/", {"project": ctx["project"].id, "filename": "big.svs", "size": size},
                      content_type="application/json").json()["id"]
    big = client.put(f"/api/uploads/{uid}/", data=b"II*\x00" + b"\0" * (9 * 1024 * 1024 - 4),
                     content_type="application/octet-stream",
                     headers={"Content-Range": f"bytes 0-{9 * 1024 * 1024 - 1}/{size}"})
    assert big.status_code == 413


def test_only_managers_upload_and_outsiders_do_not_see_uploads(slide_store, user_factory, client):
    ctx = make_project(user_factory)
    client.force_login(ctx["annotator"])
    body = {"project": ctx["project"].id, "filename": "a.svs", "size": 10}
    assert client.post("/api/uploads/", body, content_type="application/json").status_code == 403
    client.force_login(ctx["manager"])
    uid = client.post("/api/uploads/", body, content_type="application/json").json()["id"]
    client.force_login(ctx["outsider"])
    assert client.get(f"/api/uploads/{uid}/").status_code == 404
    client.logout()
    assert client.get(f"/api/uploads/{uid}/").status_code in (401, 403)


def test_import_lists_and_imports_files_from_the_import_folder(slide_store, user_factory, client, settings):
    ctx = make_project(user_factory)
    client.force_login(ctx["manager"])
    sub = settings.SLIDE_IMPORT_ROOT / "batch1"
    sub.mkdir()
    he_tiff(sub, 200, 300)
    (sub / "notes.txt").write_text("not a slide")
    listing = client.get(f"/api/projects/{ctx['project'].id}/importable/").json()["files"]
    assert [f["path"].split("/")[0] for f in listing] == ["batch1"] and listing[0]["family"] == "tiff"
    r = client.post(f"/api/projects/{ctx['project'].id}/import/", {"paths": ["batch1"]}, content_type="application/json")
    assert r.status_code == 202, r.content
    assert len(r.json()["slides"]) == 1 and r.json()["slides"][0]["job"]
    again = client.post(f"/api/projects/{ctx['project'].id}/import/", {"paths": ["batch1"]},
                        content_type="application/json")
    assert again.json()["slides"][0]["job"] is None  # already imported: not duplicated
    assert Slide.objects.filter(project=ctx["project"]).count() == 1


@pytest.mark.parametrize("path", ["../secret.tif", "/etc/passwd", "batch/../../x.tif", "escape"])
def test_import_refuses_paths_outside_the_import_folder(slide_store, user_factory, client, settings, tmp_path, path):
    ctx = make_project(user_factory)
    client.force_login(ctx["manager"])
    outside = he_tiff(tmp_path, 100, 100)
    os.symlink(outside, settings.SLIDE_IMPORT_ROOT / "escape")
    r = client.post(f"/api/projects/{ctx['project'].id}/import/", {"paths": [path]}, content_type="application/json")
    assert r.status_code == 400
    assert r.json()["code"] == "path_outside_import_root"
    assert not Slide.objects.exists()
    names = [f["path"] for f in client.get(f"/api/projects/{ctx['project'].id}/importable/").json()["files"]]
    assert "escape" not in names


def test_import_slides_command_imports_a_folder(slide_store, user_factory, tmp_path):
    from django.core.management import call_command

    ctx = make_project(user_factory)
    folder = tmp_path / "incoming"
    folder.mkdir()
    he_tiff(folder, 100, 120)
    he_tiff(folder, 100, 120, seed=2)
    call_command("import_slides", "--project", str(ctx["project"].id), str(folder))
    slides = Slide.objects.filter(project=ctx["project"])
    assert slides.count() == 2
    assert all((slide_store / s.file_path).is_file() and s.file_path.startswith("store/") for s in slides)


def test_abandoned_uploads_are_pruned_and_fresh_ones_kept(slide_store, user_factory, client):
    from annotation.services.uploads import upload_get, upload_prune

    ctx = make_project(user_factory)
    client.force_login(ctx["manager"])
    body = {"project": ctx["project"].id, "filename": "a.svs", "size": 10}
    old = client.post("/api/uploads/", body, content_type="application/json").json()["id"]
    fresh = client.post("/api/uploads/", body, content_type="application/json").json()["id"]
    for path in (slide_store / "uploads").glob(f"{old}.*"):
        os.utime(path, (0, 0))
    assert upload_prune(older_than_s=3600) == 1
    assert upload_get(upload_id=fresh).id == fresh
    assert client.get(f"/api/uploads/{old}/").status_code == 404


def test_import_from_another_disk_is_copied_by_the_ingest_job_not_the_request(slide_store, tmp_path, monkeypatch):
    from annotation.services import slides as slide_services

    ctx = make_project()
    source = he_tiff(tmp_path, 120, 160)

    def cross_device(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(slide_services.os, "link", cross_device)
    [(slide, job)] = slide_services.slides_import(project=ctx["project"], paths=[source])
    assert not (slide_store / slide.file_path).exists()  # nothing copied yet
    slide_services.slide_ingest(job_id=str(job.id))
    slide.refresh_from_db()
    assert slide.status == Slide.Status.READY, slide.status_reason
    assert (slide_store / slide.file_path).read_bytes() == source.read_bytes()
