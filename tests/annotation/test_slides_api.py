"""Slide, pair, viewer, registration-version and job endpoints: shapes and permissions."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from annotation.imaging.tokens import verify_tile_token
from annotation.imaging.transform import SlideTransform
from annotation.models import Job, Registration, SlidePair
from annotation.services import registration as reg_services
from annotation.services.pairs import pair_create
from tests.annotation.slide_support import add_slide, he_tiff, if_ome, make_project, slide_store

pytestmark = pytest.mark.django_db
__all__ = ["slide_store"]


@pytest.fixture
def pair_ctx(slide_store, tmp_path):
    ctx = make_project()
    he = add_slide(ctx["project"], he_tiff(tmp_path, 400, 500))
    mol = add_slide(ctx["project"], if_ome(tmp_path, 400, 500))
    ctx["pair"] = pair_create(project=ctx["project"], name="pair", anatomical_id=he.id, molecular_id=mol.id)
    ctx["he"], ctx["mol"] = he, mol
    return ctx


def _token(url: str):
    from django.conf import settings

    token = url.split("/")[-2]
    return verify_tile_token(token, settings.SECRET_KEY)


def test_viewer_gives_members_signed_urls_for_he_if_and_identity_overlay(pair_ctx, client, settings):
    client.force_login(pair_ctx["annotator"])
    r = client.get(f"/api/pairs/{pair_ctx['pair'].id}/viewer/")
    assert r.status_code == 200, r.content
    body = r.json()
    he_spec = _token(body["anatomical"]["dzi_url"])
    assert he_spec.kind == "brightfield" and he_spec.paths == (pair_ctx["he"].file_path,)
    assert body["anatomical"]["width"] == 500 and body["anatomical"]["dzi_url"].startswith(settings.TILE_URL_PREFIX)
    assert _token(body["molecular"]["dzi_url"]).kind == "fluorescence"
    assert body["molecular"]["channels"] == ["DAPI", "CD31", "WT1"]
    overlay = _token(body["overlay"]["dzi_url"])
    assert overlay.kind == "overlay" and body["overlay"]["identity"] is True
    stored = settings.SLIDE_ROOT / overlay.transform_path
    assert SlideTransform.from_dict(__import__("json").loads(stored.read_text())).affine == SlideTransform.identity().affine
    assert body["pair"]["registration"] is None


def test_viewer_thumbnail_and_dzi_are_hidden_from_non_members_and_anonymous(pair_ctx, client):
    pid, sid = pair_ctx["pair"].id, pair_ctx["he"].id
    client.force_login(pair_ctx["outsider"])
    for url in (f"/api/pairs/{pid}/viewer/", f"/api/slides/{sid}/thumbnail/", f"/api/slides/{sid}/dzi/",
                f"/api/slides/{sid}/", f"/api/pairs/{pid}/registration/qa/"):
        assert client.get(url).status_code == 404, url
    assert client.get("/api/pairs/999999/viewer/").status_code == 404
    client.logout()
    assert client.get(f"/api/pairs/{pid}/viewer/").status_code in (401, 403)
    assert client.get(f"/api/slides/{sid}/thumbnail/").status_code in (401, 403)


def test_members_get_thumbnail_png_and_slide_list(pair_ctx, client):
    client.force_login(pair_ctx["annotator"])
    r = client.get(f"/api/slides/{pair_ctx['he'].id}/thumbnail/")
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(b"".join(r.streaming_content))).size == (500, 400)
    slides = client.get(f"/api/projects/{pair_ctx['project'].id}/slides/").json()
    assert {s["kind"] for s in slides} == {"brightfield", "fluorescence"}
    assert all("file_path" not in s for s in slides)


def test_pair_creation_checks_kinds_and_roles(pair_ctx, client):
    url = f"/api/projects/{pair_ctx['project'].id}/pairs/"
    body = {"name": "swapped", "anatomical": pair_ctx["mol"].id, "molecular": pair_ctx["he"].id}
    client.force_login(pair_ctx["annotator"])
    assert client.post(url, body, content_type="application/json").status_code == 403
    client.force_login(pair_ctx["manager"])
    r = client.post(url, body, content_type="application/json")
    assert r.status_code == 400 and "brightfield" in r.json()["detail"]
    ok = client.post(url, {"name": "ok", "anatomical": pair_ctx["he"].id, "molecular": pair_ctx["mol"].id},
                     content_type="application/json")
    assert ok.status_code == 201
    renamed = client.patch(f"/api/pairs/{ok.json()['id']}/", {"name": "renamed"}, content_type="application/json")
    assert renamed.json()["name"] == "renamed"
    listed = client.get(url).json()
    assert len(listed) == 2 and listed[0]["slides"]["molecular"]["kind"] == "fluorescence"


def test_creating_a_ready_pair_queues_one_registration_job(pair_ctx, client):
    jobs = Job.objects.filter(kind=Job.Kind.REGISTRATION, target__pair_id=pair_ctx["pair"].id)
    assert jobs.count() == 1 and jobs.get().status == Job.Status.QUEUED
    client.force_login(pair_ctx["manager"])
    r = client.post(f"/api/pairs/{pair_ctx['pair'].id}/register/")
    assert r.status_code == 202 and r.json()["job"] == str(jobs.get().id)  # the queued one is reused
    client.force_login(pair_ctx["annotator"])
    assert client.post(f"/api/pairs/{pair_ctx['pair'].id}/register/").status_code == 403


def test_manual_affine_landmarks_and_activation_create_and_switch_versions(pair_ctx, client):
    pid = pair_ctx["pair"].id
    client.force_login(pair_ctx["manager"])
    r = client.post(f"/api/pairs/{pid}/registration/", {"affine": [[1, 0, 10], [0, 1, -5]]},
                    content_type="application/json")
    assert r.status_code == 201 and r.json()["version"] == 1 and r.json()["current"] is True
    truth = SlideTransform(affine=((1.02, 0.01, 12.0), (-0.01, 0.99, -4.0)))
    he_pts = np.array([[50, 60], [400, 80], [100, 350], [450, 380], [250, 200]], float)
    marks = [[list(a), list(b)] for a, b in zip(he_pts, truth.map_points(he_pts), strict=True)]
    r = client.post(f"/api/pairs/{pid}/landmarks/", {"landmarks": marks}, content_type="application/json")
    assert r.status_code == 201, r.content
    assert r.json()["version"] == 2 and r.json()["source"] == "landmarks" and r.json()["current"]
    reg = Registration.objects.get(pair_id=pid, version=2)
    got = SlideTransform.from_dict(reg.transform).map_points(he_pts)
    assert np.abs(got - truth.map_points(he_pts)).max() < 1.0
    versions = client.get(f"/api/pairs/{pid}/registrations/").json()
    assert [v["version"] for v in versions] == [2, 1]
    r = client.post(f"/api/pairs/{pid}/registrations/1/activate/")
    assert r.status_code == 200 and r.json()["current"] is True
    viewer = client.get(f"/api/pairs/{pid}/viewer/").json()
    assert viewer["pair"]["registration"]["version"] == 1
    assert _token(viewer["overlay"]["dzi_url"]).transform_version == Registration.objects.get(pair_id=pid, version=1).transform_sha


def test_failed_registration_is_kept_but_never_current(pair_ctx):
    pair = pair_ctx["pair"]
    ok = reg_services.registration_manual(pair=pair, affine=[[1, 0, 0], [0, 1, 0]])
    failed = reg_services.registration_record(pair=pair, transform=SlideTransform.identity().to_dict(),
                                              status="failed", reason="no tissue", source="automatic")
    pair.refresh_from_db()
    assert pair.current_registration_id == ok.id and failed.version == 2
    with pytest.raises(reg_services.InvalidTransition):
        reg_services.registration_activate(pair=pair, version=2)


def test_registration_record_is_atomic_when_it_breaks_midway(pair_ctx, monkeypatch):
    pair = pair_ctx["pair"]
    first = reg_services.registration_manual(pair=pair, affine=[[1, 0, 0], [0, 1, 0]])

    def explode(*args, **kwargs):
        raise RuntimeError("push failed mid-write")

    monkeypatch.setattr(reg_services, "broadcast", explode)
    with pytest.raises(RuntimeError):
        reg_services.registration_manual(pair=pair, affine=[[1, 0, 5], [0, 1, 5]])
    pair.refresh_from_db()
    assert pair.current_registration_id == first.id
    assert list(pair.registrations.values_list("version", flat=True)) == [1]


def test_qa_endpoint_and_checkerboard_png(pair_ctx, client):
    pid = pair_ctx["pair"].id
    reg_services.registration_record(
        pair=pair_ctx["pair"], transform=SlideTransform.identity().to_dict(), status="ok", source="automatic",
        metrics={"residual_um": 0.4}, qa={"step_px": 100.0, "error_um": [[0.5, None]], "confidence": [[0.9, None]]},
    )
    client.force_login(pair_ctx["annotator"])
    qa = client.get(f"/api/pairs/{pid}/registration/qa/").json()
    assert qa["qa"]["error_um"] == [[0.5, None]] and qa["registration"]["metrics"]["residual_um"] == 0.4
    png = client.get(qa["checkerboard_url"])
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(png.content)))
    assert image.shape[1] == 500 and image.std() > 0


def test_jobs_api_shows_members_their_project_jobs_only(pair_ctx, client, user_factory):
    job = Job.objects.filter(project=pair_ctx["project"]).first()
    client.force_login(pair_ctx["annotator"])
    listed = client.get(f"/api/jobs/?project={pair_ctx['project'].id}").json()
    assert str(job.id) in {j["id"] for j in listed}
    assert client.get(f"/api/jobs/{job.id}/").json()["kind"] == job.kind
    client.force_login(pair_ctx["outsider"])
    assert client.get(f"/api/jobs/{job.id}/").status_code == 404
    assert client.get("/api/jobs/").json() == []
    staff = user_factory(is_staff=True)
    client.force_login(staff)
    assert client.get(f"/api/jobs/{job.id}/").status_code == 200


def test_pair_with_slide_of_another_project_is_refused(pair_ctx, tmp_path):
    other = make_project(name="other")
    foreign = add_slide(other["project"], if_ome(tmp_path, 100, 100))
    with pytest.raises(reg_services.InvalidInput):
        pair_create(project=pair_ctx["project"], name="x", anatomical_id=pair_ctx["he"].id, molecular_id=foreign.id)
    assert SlidePair.objects.count() == 1


def test_label_and_macro_images_are_for_managers_only(pair_ctx, client):
    url = f"/api/slides/{pair_ctx['he'].id}/images/label/"
    client.force_login(pair_ctx["annotator"])
    assert client.get(url).status_code == 403
    client.force_login(pair_ctx["manager"])
    assert client.get(url).status_code == 404  # a generic TIFF has no label image
    assert client.get(f"/api/slides/{pair_ctx['he'].id}/images/thumbnail/").status_code == 200
