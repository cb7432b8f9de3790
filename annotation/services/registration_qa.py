"""QA of a registration: the error/confidence map and a checkerboard preview (H&E squares vs warped IF)."""

from __future__ import annotations

import hashlib
import io
import os
import uuid

import numpy as np
from PIL import Image

from annotation.errors import NotFound
from annotation.imaging.overlay import overlay_pixels
from annotation.imaging.readers import open_slide
from annotation.imaging.render import RenderSettings, composite
from annotation.imaging.transform import SlideTransform
from annotation.models import Registration, Slide, SlidePair
from annotation.services.registration import registration_payload
from annotation.services.slides import derived_dir, slide_abspath


def _version(pair: SlidePair, version: int | None) -> Registration | None:
    if version is None:
        return pair.current_registration
    reg = pair.registrations.filter(version=version).first()
    if reg is None:
        raise NotFound("Registration version not found.")
    return reg


def registration_qa(*, pair: SlidePair, version: int | None = None) -> dict:
    """The registration's metrics and QA maps (error in um, confidence 0..1 on a coarse H&E grid)."""
    reg = _version(pair, version)
    if reg is None:
        return {"registration": None, "qa": None, "warnings": [], "landmarks": [], "checkerboard_url": None}
    return {
        "registration": registration_payload(reg, current=pair),
        "qa": reg.qa or None,
        "warnings": (reg.metrics or {}).get("warnings", []),
        "landmarks": reg.landmarks or [],
        "checkerboard_url": f"/api/pairs/{pair.id}/registration/checkerboard.png?version={reg.version}",
    }


def registration_checkerboard_png(*, pair: SlidePair, version: int | None = None, max_px: int = 768,
                                  squares: int = 8) -> bytes:
    """PNG checkerboard of the H&E thumbnail and the IF warped through the transform (cached per transform)."""
    he, mol = pair.anatomical, pair.molecular
    if mol is None or he.status != Slide.Status.READY or mol.status != Slide.Status.READY:
        raise NotFound("Both slides must be ready for a preview.")
    reg = _version(pair, version)
    transform_dict = reg.transform if reg is not None else SlideTransform.identity().to_dict()
    key = hashlib.sha256(f"{he.checksum}|{mol.checksum}|{transform_dict}|{max_px}|{squares}".encode()).hexdigest()
    folder = derived_dir(he.checksum) / "qa"
    path = folder / f"checkerboard-{key[:32]}.png"
    if path.exists():
        return path.read_bytes()
    transform = SlideTransform.from_dict(transform_dict)
    with open_slide(slide_abspath(he)) as he_reader:
        rgb = np.ascontiguousarray(he_reader.thumbnail(max_px)[..., :3]).astype(np.uint8)
    h, w = rgb.shape[:2]
    with open_slide(slide_abspath(mol)) as if_reader:
        pixels, covered = overlay_pixels(if_reader, transform, 0, 0, he.width / w, w, h)
        render = (mol.display or {}).get("render")
        settings = RenderSettings.parse(render) if render else RenderSettings.defaults(if_reader.info)
        fluo = composite(pixels, settings)
    fluo[~covered] = 0
    side = max(1, max(h, w) // squares)
    yy, xx = np.mgrid[0:h, 0:w]
    board = ((yy // side + xx // side) % 2 == 0)[..., None]
    image = np.where(board, rgb, fluo).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{uuid.uuid4().hex}.tmp"
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)
    return buf.getvalue()
