"""Ingest: generic TIFF, OME-TIFF and a real Aperio SVS become ready slides; bad files fail with a reason."""

from __future__ import annotations

import pytest
from PIL import Image

from annotation.models import Job, Slide
from annotation.services.slides import slide_image_path, slide_ingest
from tests.annotation.slide_support import add_slide, he_tiff, if_ome, make_project, random_bytes, slide_store
from tests.imaging.conftest import aperio_svs  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
__all__ = ["slide_store"]


def test_generic_tiff_ingests_as_brightfield_with_levels_and_thumbnail(slide_store, user_factory, tmp_path):
    ctx = make_project(user_factory)
    slide = add_slide(ctx["project"], he_tiff(tmp_path, 600, 800))
    assert slide.status == Slide.Status.READY, slide.status_reason
    assert slide.kind == "brightfield"
    assert (slide.width, slide.height) == (800, 600)
    assert len(slide.levels) == 3 and slide.levels[1][:2] == [400, 300]
    assert slide.checksum.startswith("f1:")
    thumb = slide_image_path(slide=slide)
    assert str(thumb).startswith(str(slide_store)) and slide.checksum[3:] in str(thumb)
    assert Image.open(thumb).size == (800, 600)
    job = Job.objects.get(kind=Job.Kind.INGEST, target__slide_id=slide.id)
    assert job.status == Job.Status.SUCCEEDED and job.progress == 1.0


def test_ome_tiff_ingests_as_fluorescence_with_channels_and_default_display(slide_store, user_factory, tmp_path):
    ctx = make_project(user_factory)
    slide = add_slide(ctx["project"], if_ome(tmp_path))
    assert slide.status == Slide.Status.READY, slide.status_reason
    assert slide.kind == "fluorescence"
    assert slide.channels == ["DAPI", "CD31", "WT1"]
    assert slide.mpp_x == pytest.approx(0.325)
    assert [c["name"] for c in slide.display["channels"]] == slide.channels
    assert slide.display["channels"][0]["color"] == "0000ff"  # DAPI shows blue
    assert slide.display["render"].startswith("0-0000ff-")


def test_real_aperio_svs_ingests_with_mpp_objective_and_associated_images(slide_store, user_factory, aperio_svs):  # noqa: F811
    ctx = make_project(user_factory)
    slide = add_slide(ctx["project"], aperio_svs)
    assert slide.status == Slide.Status.READY, slide.status_reason
    assert slide.format == "aperio"
    assert slide.mpp_x == pytest.approx(0.499, abs=0.01)
    assert slide.objective_power == 20
    derived = slide.info["derived"]
    assert "thumbnail" in derived
    for name in set(derived) & {"label", "macro"}:
        assert slide_image_path(slide=slide, name=name).is_file()


@pytest.mark.parametrize(
    ("content", "reason_part"),
    [
        (b"%PDF-1.4 this is a document, not a slide" * 10, "unsupported file type"),
        (b"II*\x00" + b"\xff" * 300, "TIFF"),
    ],
    ids=["unsupported", "corrupt"],
)
def test_unreadable_files_fail_with_a_readable_reason(slide_store, user_factory, tmp_path, content, reason_part):
    ctx = make_project(user_factory)
    bad = tmp_path / "bad.svs"
    bad.write_bytes(content)
    slide = add_slide(ctx["project"], bad)
    assert slide.status == Slide.Status.FAILED
    assert reason_part.lower() in slide.status_reason.lower()
    job = Job.objects.get(target__slide_id=slide.id)
    assert job.status == Job.Status.FAILED and job.error == slide.status_reason


def test_truncated_tiff_fails_and_other_slides_still_ingest(slide_store, user_factory, tmp_path):
    ctx = make_project(user_factory)
    full = he_tiff(tmp_path, 600, 800)
    data = full.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: len(data) * 2 // 3])
    bad = add_slide(ctx["project"], cut)
    good = add_slide(ctx["project"], full)
    assert bad.status == Slide.Status.FAILED
    assert "truncat" in bad.status_reason.lower() or "corrupt" in bad.status_reason.lower()
    assert good.status == Slide.Status.READY


def test_rerunning_a_finished_ingest_job_does_nothing(slide_store, user_factory, tmp_path):
    ctx = make_project(user_factory)
    slide = add_slide(ctx["project"], he_tiff(tmp_path, 300, 400))
    job = Job.objects.get(target__slide_id=slide.id)
    Slide.objects.filter(id=slide.id).update(name="renamed", width=1)
    slide_ingest(job_id=str(job.id))
    slide.refresh_from_db()
    job.refresh_from_db()
    assert slide.width == 1  # untouched: the job had finished
    assert job.attempts == 1


def test_random_bytes_named_tif_fail(slide_store, user_factory, tmp_path):
    ctx = make_project(user_factory)
    noise = tmp_path / "noise.tif"
    noise.write_bytes(random_bytes(5000))
    slide = add_slide(ctx["project"], noise)
    assert slide.status == Slide.Status.FAILED and slide.status_reason
