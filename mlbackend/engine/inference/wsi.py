"""Whole-slide (or task rectangle) inference: tissue-masked tiles with overlap, batching and stitching."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from scipy.spatial import cKDTree

from mlbackend.engine.inference.maps import predict_batch, predict_maps, to_input
from mlbackend.engine.inference.postprocess import CellPrediction, ClassProbsFn, PostConfig, cells_from_maps
from mlbackend.engine.nets import fuse_for_inference
from mlbackend.engine.nets.cropnet import CropNet, fuse_cropnet
from mlbackend.engine.training.cellclf import classify_points
from mlbackend.engine.training.checkpoint import ModelBundle

logger = logging.getLogger(__name__)


@runtime_checkable
class SlideReader(Protocol):
    """What inference needs from a slide: level-0 size and RGB(A) reads at level-0 coordinates."""

    @property
    def dimensions(self) -> tuple[int, int]:
        """Level-0 (width, height) in pixels."""
        ...

    def read_region(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        """(h, w, 3 or 4) uint8 at ``level``; (x, y) is the top-left in level-0 pixels."""
        ...


@dataclass(frozen=True)
class RegionPrediction:
    """Cells of a region in level-0 pixels plus run statistics."""

    cells: tuple[CellPrediction, ...]
    class_names: tuple[str, ...]
    region: tuple[int, int, int, int]  # x, y, w, h (level 0)
    tiles_total: int
    tiles_run: int
    seconds: float

    @property
    def megapixels_per_second(self) -> float:
        return self.region[2] * self.region[3] / 1e6 / max(self.seconds, 1e-9)


ProgressFn = Callable[[int, int], None]


def tissue_fraction(rgb: np.ndarray, od_threshold: float = 0.15) -> float:
    """Fraction of pixels with summed optical density above ``od_threshold`` (not glass)."""
    od = -np.log(np.maximum(rgb[..., :3].astype(np.float32), 1.0) / 255.0).sum(axis=-1)
    return float((od > od_threshold).mean())


def tile_grid(region: tuple[int, int, int, int], tile_px: int, overlap_px: int) -> list[tuple[int, int, int, int]]:
    """Tiles (x, y, w, h) covering the region with ``overlap_px`` overlap; the last row/column is flush."""
    x0, y0, w, h = region
    step = tile_px - overlap_px

    def starts(origin: int, size: int) -> list[int]:
        if size <= tile_px:
            return [origin]
        s = list(range(origin, origin + size - tile_px, step))
        return s + [origin + size - tile_px]

    return [(tx, ty, min(tile_px, w), min(tile_px, h)) for ty in starts(y0, h) for tx in starts(x0, w)]


def _core(tile: tuple[int, int, int, int], region: tuple[int, int, int, int], overlap_px: int) -> tuple[float, ...]:
    """The part of a tile that owns cell centres: half the overlap trimmed on sides facing other tiles."""
    tx, ty, tw, th = tile
    rx, ry, rw, rh = region
    m = overlap_px / 2.0
    left = rx if tx <= rx else tx + m
    top = ry if ty <= ry else ty + m
    right = rx + rw if tx + tw >= rx + rw else tx + tw - m
    bottom = ry + rh if ty + th >= ry + rh else ty + th - m
    return left, top, right, bottom


def _read(reader: SlideReader, tile: tuple[int, int, int, int], tile_px: int) -> np.ndarray:
    tx, ty, tw, th = tile
    rgb = np.asarray(reader.read_region(0, tx, ty, tw, th))[..., :3]
    if rgb.shape[:2] != (tile_px, tile_px):
        out = np.full((tile_px, tile_px, 3), 255, np.uint8)
        out[: rgb.shape[0], : rgb.shape[1]] = rgb
        rgb = out
    return rgb


def _read_if(reader: SlideReader | None, tile: tuple[int, int, int, int], tile_px: int) -> np.ndarray | None:
    if reader is None:
        return None
    tx, ty, tw, th = tile
    arr = np.asarray(reader.read_region(0, tx, ty, tw, th))
    arr = arr.reshape(arr.shape[0], arr.shape[1], -1)
    out = np.zeros((tile_px, tile_px, arr.shape[2]), arr.dtype)
    out[: arr.shape[0], : arr.shape[1]] = arr
    return out


def _batches(tiles: list, size: int) -> Iterator[list]:
    for i in range(0, len(tiles), size):
        yield tiles[i : i + size]


def dedupe(cells: list[CellPrediction], radius_px: float) -> list[CellPrediction]:
    """Drop the less confident of any two cells closer than ``radius_px`` (tile-border duplicates)."""
    if len(cells) < 2:
        return cells
    order = sorted(range(len(cells)), key=lambda i: -cells[i].confidence)
    xy = np.array([[cells[i].x, cells[i].y] for i in order])
    drop: set[int] = set()
    for a, b in sorted(cKDTree(xy).query_pairs(radius_px)):
        if a not in drop and b not in drop:
            drop.add(max(a, b))
    return [cells[order[i]] for i in range(len(order)) if i not in drop]


def _classifier_setting(bundle: ModelBundle, key: str, default: float) -> float:
    cfg = bundle.config.get("classifier") if isinstance(bundle.config, dict) else None
    return float(cfg.get(key, default)) if isinstance(cfg, dict) else default


def _class_probs(bundle: ModelBundle, image: np.ndarray, clf: CropNet | None = None) -> ClassProbsFn | None:
    """The bundle's crop classifier (or ``clf``, e.g. its fused copy) applied to cells of ``image``; None without one."""
    clf = clf if clf is not None else bundle.classifier
    if clf is None:
        return None
    tta = int(_classifier_setting(bundle, "tta", 4))
    return lambda xy: classify_points(clf, image, xy, tta=tta)


def classifier_mix(bundle: ModelBundle) -> float:
    """Weight of the crop classifier against the dense class head (training config, default 1)."""
    return _classifier_setting(bundle, "mix", 1.0)


def predict_cells(bundle: ModelBundle, image: np.ndarray, post: PostConfig | None = None) -> list[CellPrediction]:
    """Cells of one RGB crop (crop pixels) with the bundle's network and, if present, its crop classifier."""
    maps = predict_maps(bundle.net, image)
    return cells_from_maps(maps, post or PostConfig(), class_probs=_class_probs(bundle, image),
                           class_mix=classifier_mix(bundle))


def predict_region(
    bundle: ModelBundle,
    reader: SlideReader,
    region: tuple[int, int, int, int] | None = None,
    *,
    tile_px: int = 512,
    overlap_px: int = 64,
    batch_size: int = 4,
    post: PostConfig | None = None,
    min_tissue: float = 0.02,
    progress: ProgressFn | None = None,
    if_reader: SlideReader | None = None,
) -> RegionPrediction:
    """Cells (level-0 px) in ``region`` (x, y, w, h; default whole slide), tile by tile in bounded memory.

    ``if_reader`` (for models trained with IF input) returns IF marker channels (h, w, K) already registered
    to the H&E level-0 frame, e.g. a warped overlay.
    """
    t0 = time.perf_counter()
    if region is None:
        region = (0, 0, *reader.dimensions)
    post = post or PostConfig()
    net = fuse_for_inference(bundle.net.eval()).to(memory_format=torch.channels_last)
    mix = classifier_mix(bundle)
    clf = fuse_cropnet(bundle.classifier) if bundle.classifier is not None else None
    tiles = tile_grid(region, tile_px, overlap_px)
    cells: list[CellPrediction] = []
    done = run = 0
    for chunk in _batches(tiles, batch_size):
        images = [(_read(reader, t, tile_px), t) for t in chunk]
        images = [(im, t) for im, t in images if tissue_fraction(im) >= min_tissue]
        if images:
            x = np.stack([to_input(im, _read_if(if_reader, t, tile_px), net.config.if_channels) for im, t in images])
            for maps, (im, tile) in zip(predict_batch(net, x), images):
                left, top, right, bottom = _core(tile, region, overlap_px)
                for c in cells_from_maps(maps, post, offset_xy=(tile[0], tile[1]), class_probs=_class_probs(bundle, im, clf),
                                         class_mix=mix):
                    if left <= c.x < right and top <= c.y < bottom:
                        cells.append(c)
            run += len(images)
        done += len(chunk)
        if progress:
            progress(done, len(tiles))
    cells = dedupe(cells, post.min_distance_px / 2.0)
    seconds = time.perf_counter() - t0
    logger.info("region %s: %d cells from %d/%d tiles in %.1fs", region, len(cells), run, len(tiles), seconds)
    return RegionPrediction(
        cells=tuple(cells), class_names=bundle.class_names, region=region, tiles_total=len(tiles),
        tiles_run=run, seconds=seconds,
    )
