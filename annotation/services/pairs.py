"""Slide pairs (anatomical H&E + molecular IF) and what the viewer needs to show one: signed tile URLs."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from annotation.errors import InvalidInput
from annotation.imaging.tokens import TileSpec, sign_tile_token
from annotation.models import Project, Slide, SlidePair
from annotation.services.registration import (
    pair_ready_to_register,
    registration_payload,
    registration_start,
    transform_file_for_pair,
)

logger = logging.getLogger(__name__)


def _slide_in_project(project: Project, slide_id: int | None, role: str) -> Slide | None:
    if slide_id is None:
        return None
    slide = Slide.objects.filter(id=slide_id, project=project).first()
    if slide is None:
        raise InvalidInput(f"The {role} slide is not a slide of this project.")
    if slide.status == Slide.Status.FAILED:
        raise InvalidInput(f"The {role} slide failed to ingest: {slide.status_reason}")
    want = Slide.Kind.BRIGHTFIELD if role == "anatomical" else Slide.Kind.FLUORESCENCE
    if slide.status == Slide.Status.READY and slide.kind != want:
        raise InvalidInput(f"The {role} slide must be {want}, but slide {slide.id} is {slide.kind}.")
    return slide


@transaction.atomic
def pair_create(*, project: Project, name: str, anatomical_id: int, molecular_id: int | None = None) -> SlidePair:
    """Pair an H&E slide with an IF slide of the same project; registration starts once both are ready."""
    he = _slide_in_project(project, anatomical_id, "anatomical")
    mol = _slide_in_project(project, molecular_id, "molecular")
    if mol is not None and he.id == mol.id:
        raise InvalidInput("A slide cannot be paired with itself.")
    pair = SlidePair.objects.create(project=project, name=name[:255] or he.name, anatomical=he, molecular=mol)
    _maybe_register(pair)
    return pair


@transaction.atomic
def pair_update(*, pair: SlidePair, name: str | None = None, anatomical_id: int | None = None,
                molecular_id: int | None = None) -> SlidePair:
    """Rename a pair or change its slides (a slide change drops the current registration and re-registers)."""
    pair = SlidePair.objects.select_for_update().get(id=pair.id)
    changed = False
    if name is not None:
        pair.name = name[:255]
    if anatomical_id is not None and anatomical_id != pair.anatomical_id:
        pair.anatomical = _slide_in_project(pair.project, anatomical_id, "anatomical")
        changed = True
    if molecular_id is not None and molecular_id != pair.molecular_id:
        pair.molecular = _slide_in_project(pair.project, molecular_id, "molecular")
        changed = True
    if pair.molecular_id == pair.anatomical_id:
        raise InvalidInput("A slide cannot be paired with itself.")
    if changed:
        pair.current_registration = None
    pair.save()
    if changed:
        _maybe_register(pair)
    return pair


def _maybe_register(pair: SlidePair) -> None:
    pair = SlidePair.objects.select_related("anatomical", "molecular").get(id=pair.id)
    if not pair_ready_to_register(pair):
        registration_start(pair=pair)


# -- signed tile URLs --------------------------------------------------------------------------------------------


def _dzi_url(spec: TileSpec) -> str:
    token = sign_tile_token(spec, settings.SECRET_KEY, settings.TILE_TOKEN_TTL_S)
    return f"{settings.TILE_URL_PREFIX.rstrip('/')}/{token}/slide.dzi"


def slide_dzi_url(slide: Slide) -> str:
    """Signed DZI URL of one ready slide (brightfield or fluorescence composite)."""
    if slide.status != Slide.Status.READY:
        raise InvalidInput("The slide is not ingested yet.", code="slide_not_ready")
    return _dzi_url(TileSpec(kind=slide.kind, paths=(slide.file_path,), checksums=(slide.checksum,)))


def slide_payload(slide: Slide) -> dict:
    """JSON shape of a slide (no file paths)."""
    return {
        "id": slide.id, "project": slide.project_id, "name": slide.name, "status": slide.status,
        "status_reason": slide.status_reason, "kind": slide.kind, "format": slide.format, "width": slide.width,
        "height": slide.height, "levels": slide.levels, "mpp_x": slide.mpp_x, "mpp_y": slide.mpp_y,
        "objective_power": slide.objective_power, "channels": slide.channels, "display": slide.display,
        "size_bytes": slide.size_bytes, "associated_images": sorted((slide.info or {}).get("derived", {})),
        "created_at": slide.created_at.isoformat() if slide.created_at else None,
    }


def pair_payload(pair: SlidePair) -> dict:
    reg = pair.current_registration
    return {
        "id": pair.id, "project": pair.project_id, "name": pair.name, "anatomical": pair.anatomical_id,
        "molecular": pair.molecular_id,
        "slides": {role: _slide_summary(s) for role, s in (("anatomical", pair.anatomical), ("molecular", pair.molecular))},
        "registration": registration_payload(reg, current=pair) if reg is not None else None,
        "created_at": pair.created_at.isoformat() if pair.created_at else None,
    }


def _slide_summary(slide: Slide | None) -> dict | None:
    if slide is None:
        return None
    return {"id": slide.id, "name": slide.name, "status": slide.status, "kind": slide.kind,
            "status_reason": slide.status_reason}


def pair_viewer(*, pair: SlidePair) -> dict:
    """Everything the viewer needs: H&E, IF and overlay DZI URLs, sizes, channels, registration state."""
    he, mol = pair.anatomical, pair.molecular
    out = {
        "pair": pair_payload(pair),
        "anatomical": _viewer_slide(he),
        "molecular": _viewer_slide(mol) if mol is not None else None,
        "overlay": None,
        "tile_token_ttl_s": settings.TILE_TOKEN_TTL_S,
    }
    ready = he.status == Slide.Status.READY and mol is not None and mol.status == Slide.Status.READY
    if ready:
        rel, sha = transform_file_for_pair(pair)
        spec = TileSpec(kind="overlay", paths=(he.file_path, mol.file_path), checksums=(he.checksum, mol.checksum),
                        transform_path=rel, transform_version=sha)
        out["overlay"] = {"dzi_url": _dzi_url(spec), "transform_version": sha,
                          "render": (mol.display or {}).get("render", ""),
                          "identity": pair.current_registration_id is None}
    return out


def _viewer_slide(slide: Slide) -> dict:
    ready = slide.status == Slide.Status.READY
    return {
        "id": slide.id, "name": slide.name, "status": slide.status, "status_reason": slide.status_reason,
        "kind": slide.kind, "width": slide.width, "height": slide.height, "mpp_x": slide.mpp_x, "mpp_y": slide.mpp_y,
        "objective_power": slide.objective_power, "channels": slide.channels,
        "display": slide.display, "dzi_url": slide_dzi_url(slide) if ready else None,
        "thumbnail_url": f"/api/slides/{slide.id}/thumbnail/" if ready else None,
    }
