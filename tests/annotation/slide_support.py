"""Helpers for slide platform tests: a temporary slide store, projects with roles, small generated slides."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest

from annotation.models import Membership, Project, Slide
from annotation.services.slides import slide_create, slide_ingest, slide_root
from tests.imaging.conftest import smooth_channels, smooth_rgb, write_generic_tiff, write_ome

ROLES = ("manager", "annotator", "outsider")


def make_project(user_factory=None, name: str = "P") -> dict:
    """A project with a manager, an annotator and an outsider (no membership)."""
    from django.contrib.auth import get_user_model

    project = Project.objects.create(name=name)
    # no password hashing: tests log in with force_login
    users = {r: get_user_model().objects.create(username=f"{r}-{uuid.uuid4().hex[:8]}") for r in ROLES}
    Membership.objects.create(project=project, user=users["manager"], role="manager")
    Membership.objects.create(project=project, user=users["annotator"], role="annotator")
    return {"project": project, **users}


def he_tiff(folder: Path, h: int = 600, w: int = 800, seed: int = 0) -> Path:
    return write_generic_tiff(folder / f"he-{uuid.uuid4().hex[:6]}.tif", smooth_rgb(h, w, seed), steps=(1, 2, 4))


def if_ome(folder: Path, h: int = 500, w: int = 700) -> Path:
    return write_ome(folder / f"if-{uuid.uuid4().hex[:6]}.ome.tif", smooth_channels(h, w, 3), ["DAPI", "CD31", "WT1"])


def add_slide(project: Project, source: Path, *, ingest: bool = True) -> Slide:
    """Copy a file into the slide store, create its slide and (optionally) run the ingest job in-process."""
    folder = slide_root() / "store" / str(project.id) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    target = folder / source.name
    shutil.copy2(source, target)
    slide, job = slide_create(project=project, file_path=str(target.relative_to(slide_root())), name=source.name)
    if ingest:
        slide_ingest(job_id=str(job.id))
        slide.refresh_from_db()
    return slide


def random_bytes(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


@pytest.fixture
def slide_store(settings, tmp_path):
    """SLIDE_ROOT and SLIDE_IMPORT_ROOT in a temporary folder (the import folder inside the slide root)."""
    settings.SLIDE_ROOT = tmp_path / "slides"
    settings.SLIDE_IMPORT_ROOT = tmp_path / "slides" / "import"
    settings.SLIDE_IMPORT_ROOT.mkdir(parents=True)
    return settings.SLIDE_ROOT
