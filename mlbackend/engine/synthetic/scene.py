"""The in-memory API: a frozen scene that renders any H&E or IF region and lists its cells."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from annotation.imaging.transform import SlideTransform
from mlbackend.engine.synthetic.cells import Cell, CellBatch, cells_in_box
from mlbackend.engine.synthetic.config import CHANNELS, SceneConfig
from mlbackend.engine.synthetic.geometry import build_transform
from mlbackend.engine.synthetic.render_he import render_he
from mlbackend.engine.synthetic.render_if import render_if, to_dtype


def _channel_indices(channels: tuple[str, ...] | None) -> tuple[int, ...] | None:
    return None if channels is None else tuple(CHANNELS.index(c) for c in channels)


@dataclass(frozen=True)
class Scene(SceneConfig):
    """A synthetic H&E + IF slide pair defined by its config; renders regions without global state."""

    @cached_property
    def _geometry(self) -> tuple[SlideTransform, tuple[int, int]]:
        return build_transform(self)

    @property
    def transform(self) -> SlideTransform:
        """H&E level-0 px -> IF level-0 px in the pixel-index convention of ``SlideTransform`` (centre at i)."""
        return self._geometry[0].shifted_frame(0.5)

    @property
    def continuous_transform(self) -> SlideTransform:
        """The same map between the generator's continuous frames (pixel i covers [i, i + 1)); renders with it."""
        return self._geometry[0]

    @property
    def if_size(self) -> tuple[int, int]:
        """(width, height) of the IF slide at level 0."""
        return self._geometry[1]

    def render_he(self, x: float, y: float, w: int, h: int, downsample: float = 1.0) -> np.ndarray:
        """uint8 (h, w, 3) H&E RGB; (x, y) is the level-0 top-left, w x h are output pixels."""
        return render_he(self, x, y, w, h, downsample)

    def render_if(
        self, x: float, y: float, w: int, h: int, downsample: float = 1.0,
        channels: tuple[str, ...] | None = None, dtype: np.dtype | type = np.uint16,
    ) -> np.ndarray:
        """(C, h, w) IF channels in the IF frame ((x, y) = IF level-0 top-left); C = CHANNELS by default."""
        return render_if(
            self, self.continuous_transform, x, y, w, h, downsample, _channel_indices(channels), dtype, canvas=self.if_size
        )

    def render_if_in_he_frame(
        self, x: float, y: float, w: int, h: int, downsample: float = 1.0,
        channels: tuple[str, ...] | None = None, dtype: np.dtype | type = np.uint16,
    ) -> np.ndarray:
        """(C, h, w) IF resampled onto the H&E region's pixel grid (what a registered overlay shows)."""
        d = float(downsample)
        xs = x + (np.arange(w) + 0.5) * d
        ys = y + (np.arange(h) + 0.5) * d
        qx, qy = self.continuous_transform.map_grid(*np.meshgrid(xs, ys))
        d_if = d * self.continuous_transform.scale()
        pad = 4 * d_if
        x0, y0 = float(qx.min() - pad), float(qy.min() - pad)
        w_if = int(np.ceil((qx.max() + pad - x0) / d_if)) + 1
        h_if = int(np.ceil((qy.max() + pad - y0) / d_if)) + 1
        chans = _channel_indices(channels)
        src = render_if(self, self.continuous_transform, x0, y0, w_if, h_if, d_if, chans, np.float32, canvas=self.if_size)
        map_x = ((qx - x0) / d_if - 0.5).astype(np.float32)
        map_y = ((qy - y0) / d_if - 0.5).astype(np.float32)
        planes = [cv2.remap(p, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for p in src]
        return to_dtype(np.stack(planes), dtype)

    def cell_batch_in(self, x: float, y: float, w: float, h: float) -> CellBatch:
        """Struct-of-arrays of the nuclei whose centre lies in the level-0 box (fast path)."""
        return cells_in_box(self, x, y, x + w, y + h)

    def cells_in(self, x: float, y: float, w: float, h: float) -> list[Cell]:
        """Ground-truth nuclei whose centre lies in the H&E level-0 box [x, x+w) x [y, y+h)."""
        return self.cell_batch_in(x, y, w, h).to_cells()
