"""Inference: network maps, post-processing into cells, whole-slide tiling with stitching."""

from mlbackend.engine.inference.maps import Maps, predict_batch, predict_maps
from mlbackend.engine.inference.postprocess import CellPrediction, PostConfig, cells_from_maps
from mlbackend.engine.inference.wsi import (
    RegionPrediction,
    SlideReader,
    predict_cells,
    predict_region,
    tile_grid,
)

__all__ = [
    "CellPrediction",
    "Maps",
    "PostConfig",
    "RegionPrediction",
    "SlideReader",
    "cells_from_maps",
    "predict_batch",
    "predict_cells",
    "predict_maps",
    "predict_region",
    "tile_grid",
]
