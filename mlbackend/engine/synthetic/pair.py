"""The file API: write an H&E slide, its IF slide, the ground truth and the transform into a folder."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mlbackend.engine.synthetic.config import CHANNELS, CLASSES
from mlbackend.engine.synthetic.render_he import render_he
from mlbackend.engine.synthetic.render_if import render_if
from mlbackend.engine.synthetic.scene import Scene
from mlbackend.engine.synthetic.tiff_io import write_he_svs, write_if_ome
from mlbackend.engine.synthetic.truth import write_truth

logger = logging.getLogger(__name__)

HE_NAME, IF_NAME, TRUTH_NAME, TRANSFORM_NAME = "he.svs", "if.ome.tif", "truth.geojson", "transform.json"


@dataclass(frozen=True)
class PairPaths:
    """Where a written pair lives, with the facts a reader needs first."""

    he_path: Path
    if_path: Path
    truth_path: Path
    transform_path: Path
    mpp_he: float
    mpp_if: float
    he_size: tuple[int, int]
    if_size: tuple[int, int]
    n_cells: int


def _if_renderer(scene: Scene, dtype: np.dtype | type) -> Callable[[int, int, int, int, float], np.ndarray]:
    transform = scene.continuous_transform
    canvas = scene.if_size

    def render(x: int, y: int, w: int, h: int, d: float) -> np.ndarray:
        return render_if(scene, transform, x, y, w, h, d, None, dtype, canvas=canvas)

    return render


def write_transform(path: Path, scene: Scene) -> None:
    """transform.json: SlideTransform.to_dict() plus both pixel sizes and slide sizes."""
    data = scene.transform.to_dict()
    data.update(
        {
            "mpp_he": scene.mpp_he,
            "mpp_if": scene.mpp_if,
            "he_size": [scene.width, scene.height],
            "if_size": list(scene.if_size),
            "direction": "he_level0_px -> if_level0_px",
            "pixel_convention": "pixel index (pixel i centred at i)",
            "scene": {k: v for k, v in asdict(scene).items()},
        }
    )
    path.write_text(json.dumps(data))


def write_pair(
    out_dir: str | Path, width: int, height: int, seed: int = 0, *, he_tile: int = 256, if_tile: int = 512,
    pyramid_step: int = 2, if_dtype: np.dtype | type = np.uint16, jpeg_quality: int = 88,
    if_compression: str = "zlib", on_stage: Callable[[str, float], None] | None = None, **scene_options: object,
) -> PairPaths:
    """Render and write a full synthetic pair (H&E SVS, IF OME-TIFF, truth GeoJSON, transform JSON).

    ``scene_options`` are further ``SceneConfig`` fields; ``on_stage(name, seconds)`` is told as each file is done.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scene = Scene(width=width, height=height, seed=seed, **scene_options)  # type: ignore[arg-type]
    paths = {name: out / name for name in (HE_NAME, IF_NAME, TRUTH_NAME, TRANSFORM_NAME)}
    clock = [time.perf_counter()]

    def done(stage: str) -> None:
        now = time.perf_counter()
        logger.info("%s written in %.1f s", stage, now - clock[0])
        if on_stage is not None:
            on_stage(stage, now - clock[0])
        clock[0] = now

    write_transform(paths[TRANSFORM_NAME], scene)
    n_cells = write_truth(paths[TRUTH_NAME], scene, scene.continuous_transform, scene.if_size)
    done("truth")
    extra = f"Laypath = synthetic|Seed = {seed}|Classes = {','.join(CLASSES)}"
    write_he_svs(
        paths[HE_NAME], lambda x, y, w, h, d: render_he(scene, x, y, w, h, d), width, height, scene.mpp_he,
        scene.objective_power, tile=he_tile, step=pyramid_step, quality=jpeg_quality, extra=extra,
    )
    done("he")
    w_if, h_if = scene.if_size
    write_if_ome(
        paths[IF_NAME], _if_renderer(scene, if_dtype), w_if, h_if, scene.mpp_if, CHANNELS, dtype=if_dtype,
        tile=if_tile, step=pyramid_step, compression=if_compression,
    )
    done("if")
    return PairPaths(
        he_path=paths[HE_NAME], if_path=paths[IF_NAME], truth_path=paths[TRUTH_NAME],
        transform_path=paths[TRANSFORM_NAME], mpp_he=scene.mpp_he, mpp_if=scene.mpp_if,
        he_size=(width, height), if_size=(w_if, h_if), n_cells=n_cells,
    )
