"""Ground truth as a GeoJSON FeatureCollection, streamed slot-row band by band (never all cells at once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson

from annotation.imaging.transform import SlideTransform
from mlbackend.engine.synthetic.cells import CellBatch, iter_cell_batches, slot_grid, slot_px
from mlbackend.engine.synthetic.config import CHANNELS, CLASSES, MARKER_OF, SceneConfig

BAND_SLOTS = 64


def iter_all_cells(cfg: SceneConfig) -> Iterator[CellBatch]:
    """Every nucleus of the slide, in bands of slot rows (each cell exactly once)."""
    s = slot_px(cfg)
    _, nrows = slot_grid(cfg)
    for row in range(0, nrows, BAND_SLOTS):
        y0, y1 = row * s, min(row + BAND_SLOTS, nrows) * s
        for b in iter_cell_batches(cfg, 0.0, y0, float(cfg.width), y1):
            sel = (b.y >= y0) & (b.y < y1) if row + BAND_SLOTS < nrows else b.y >= y0
            if sel.any():
                yield b.take(sel)


def _features(batch: CellBatch, transform: SlideTransform, if_size: tuple[int, int]) -> Iterator[bytes]:
    """One serialised GeoJSON Feature per nucleus (numpy arrays go straight to orjson)."""
    polys = np.round(batch.polygons(), 2)
    rings = np.concatenate([polys, polys[:, :1]], axis=1)  # closed rings
    c_he = np.round(np.stack([batch.x, batch.y], axis=1), 2)
    c_if = np.round(transform.map_points(c_he), 2)
    in_if = (c_if[:, 0] >= 0) & (c_if[:, 0] < if_size[0]) & (c_if[:, 1] >= 0) & (c_if[:, 1] < if_size[1])
    radius = np.round(batch.radius, 2)
    levels = np.round(batch.markers, 3)
    opt = orjson.OPT_SERIALIZE_NUMPY
    for i in range(len(batch)):
        cls = CLASSES[batch.cls[i]]
        cid = int(batch.ids[i])
        yield orjson.dumps({
            "type": "Feature",
            "id": cid,
            "geometry": {"type": "Polygon", "coordinates": rings[i : i + 1]},
            "properties": {
                "objectType": "detection",
                "classification": {"name": cls},
                "cell_id": cid,
                "class": cls,
                "marker": MARKER_OF[cls],
                "centroid": c_he[i],
                "centroid_if": c_if[i],
                "in_if": bool(in_if[i]),
                "radius_px": float(radius[i]),
                "marker_levels": levels[i],
            },
        }, option=opt)


def write_truth(path: Path, cfg: SceneConfig, transform: SlideTransform, if_size: tuple[int, int]) -> int:
    """Stream every nucleus to a GeoJSON FeatureCollection (H&E level-0 px); returns the cell count."""
    count = 0
    header = {
        "frame": "he_level0_px",
        "classes": list(CLASSES),
        "channels": list(CHANNELS),
        "seed": cfg.seed,
        "width": cfg.width,
        "height": cfg.height,
        "mpp": cfg.mpp_he,
    }
    with open(path, "wb") as fh:
        fh.write(b'{"type":"FeatureCollection","properties":' + orjson.dumps(header) + b',"features":[\n')
        for batch in iter_all_cells(cfg):
            if count:
                fh.write(b",\n")
            fh.write(b",\n".join(_features(batch, transform, if_size)))
            count += len(batch)
        fh.write(b"\n]}\n")
    return count
