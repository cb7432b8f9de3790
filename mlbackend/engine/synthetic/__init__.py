"""Synthetic H&E + immunofluorescence slide pairs with known cell ground truth and registration.

In memory: ``Scene(width, height, seed, ...)`` renders any region of either slide and lists its cells.
On disk: ``write_pair(out_dir, width, height, seed)`` streams both pyramids, the GeoJSON truth and the
transform. CLI: ``python -m mlbackend.engine.synthetic --out DIR --width W --height H --seed S``.
"""

from mlbackend.engine.synthetic.cells import Cell, CellBatch
from mlbackend.engine.synthetic.config import CHANNEL_COLORS, CHANNELS, CLASSES, MARKER_OF, SceneConfig
from mlbackend.engine.synthetic.pair import PairPaths, write_pair
from mlbackend.engine.synthetic.scene import Scene

__all__ = [
    "CHANNELS",
    "CHANNEL_COLORS",
    "CLASSES",
    "MARKER_OF",
    "Cell",
    "CellBatch",
    "PairPaths",
    "Scene",
    "SceneConfig",
    "write_pair",
]
