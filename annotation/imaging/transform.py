"""The registration transform shared by the generator, the registration engine and the overlay tiles.

Convention (used everywhere in Laypath): a ``SlideTransform`` maps a point in **level-0 pixels of the
anatomical slide** (H&E/PAS) to **level-0 pixels of the molecular slide** (IF):

    p_if = A @ [p + d(p), 1]

where ``d`` is a smooth displacement field in anatomical level-0 pixels, stored as a low-resolution grid
(bilinearly interpolated, clamped at the edges), and ``A`` is a 2x3 affine. Overlay tiles sample the IF
at ``T(p)`` for every output pixel ``p`` (a forward map, as ``cv2.remap`` wants), so no inverse is needed.

Pixel convention (the one convention of every ``SlideTransform``): coordinates are **pixel indices** --
the centre of level-0 pixel ``(col i, row j)`` is the point ``(i, j)``, so pixel ``i`` covers
``[i - 0.5, i + 0.5)``; a pixel of pyramid level ``k`` (downsample ``s``) has its centre at level-0
``(i + 0.5) * s - 0.5``. This is what ``cv2.remap``/``warpAffine`` and the registration engine use.
Code that models continuous geometry with pixel ``i`` covering ``[i, i + 1)`` (the synthetic slide
generator, GeoJSON drawn in a viewer) converts at its boundary with ``shifted_frame``:
``T_index = T_continuous.shifted_frame(0.5)``, i.e. ``T_index(p) = T_continuous(p + 0.5) - 0.5``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

IDENTITY_AFFINE: tuple[tuple[float, float, float], tuple[float, float, float]] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))


@dataclass(frozen=True)
class DisplacementGrid:
    """Displacement in anatomical level-0 px sampled at ``origin + (i, j) * step`` (row i -> y, col j -> x)."""

    step_px: float
    dx: np.ndarray  # (rows, cols) float32, anatomical level-0 px
    dy: np.ndarray
    origin_x: float = 0.0
    origin_y: float = 0.0

    def sample(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bilinear interpolation of (dx, dy) at anatomical points, clamped at the grid's edges."""
        rows, cols = self.dx.shape
        gx = np.clip((np.asarray(x, dtype=np.float64) - self.origin_x) / self.step_px, 0, cols - 1)
        gy = np.clip((np.asarray(y, dtype=np.float64) - self.origin_y) / self.step_px, 0, rows - 1)
        x0 = np.minimum(np.floor(gx).astype(np.int64), max(cols - 2, 0))
        y0 = np.minimum(np.floor(gy).astype(np.int64), max(rows - 2, 0))
        x1 = np.minimum(x0 + 1, cols - 1)
        y1 = np.minimum(y0 + 1, rows - 1)
        fx = gx - x0
        fy = gy - y0
        out = []
        for grid in (self.dx, self.dy):
            g = grid.astype(np.float64)
            top = g[y0, x0] * (1 - fx) + g[y0, x1] * fx
            bottom = g[y1, x0] * (1 - fx) + g[y1, x1] * fx
            out.append(top * (1 - fy) + bottom * fy)
        return out[0], out[1]

    def max_abs_px(self) -> float:
        return float(max(np.abs(self.dx).max(initial=0.0), np.abs(self.dy).max(initial=0.0)))


@dataclass(frozen=True)
class SlideTransform:
    """Anatomical level-0 px -> molecular level-0 px: an affine after an optional displacement grid."""

    affine: tuple[tuple[float, float, float], tuple[float, float, float]] = IDENTITY_AFFINE
    grid: DisplacementGrid | None = None
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def identity(cls) -> SlideTransform:
        return cls()

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, grid: DisplacementGrid | None = None) -> SlideTransform:
        m = np.asarray(matrix, dtype=np.float64)[:2, :3]
        return cls(affine=(tuple(map(float, m[0])), tuple(map(float, m[1]))), grid=grid)

    @property
    def matrix(self) -> np.ndarray:
        """The affine as a 3x3 homogeneous matrix."""
        m = np.eye(3)
        m[:2, :] = np.asarray(self.affine, dtype=np.float64)
        return m

    def map_points(self, xy: np.ndarray) -> np.ndarray:
        """Map (N, 2) anatomical level-0 points to molecular level-0 points."""
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        x, y = pts[:, 0], pts[:, 1]
        if self.grid is not None:
            dx, dy = self.grid.sample(x, y)
            x, y = x + dx, y + dy
        a = np.asarray(self.affine, dtype=np.float64)
        return np.stack([a[0, 0] * x + a[0, 1] * y + a[0, 2], a[1, 0] * x + a[1, 1] * y + a[1, 2]], axis=1)

    def map_grid(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map a mesh of anatomical points (same-shape arrays) to molecular coordinates (for remap)."""
        shape = np.shape(xs)
        out = self.map_points(np.stack([np.ravel(xs), np.ravel(ys)], axis=1))
        return out[:, 0].reshape(shape), out[:, 1].reshape(shape)

    def scale(self) -> float:
        """Mean linear scale of the affine (molecular px per anatomical px)."""
        a = np.asarray(self.affine, dtype=np.float64)[:, :2]
        return float(np.sqrt(abs(np.linalg.det(a))))

    def shifted_frame(self, delta: float) -> SlideTransform:
        """The same map in frames whose coordinates are offset by ``delta``: ``T'(p) = T(p + delta) - delta``.

        ``shifted_frame(0.5)`` turns a transform between continuous frames (pixel ``i`` covers ``[i, i + 1)``)
        into the pixel-index convention of this module; ``shifted_frame(-0.5)`` goes back. Exact: the grid
        moves its origin and the affine its translation.
        """
        m = self.matrix
        lin = m[:2, :2]
        m[:2, 2] = m[:2, 2] + lin @ np.array([delta, delta]) - delta
        grid = None
        if self.grid is not None:
            g = self.grid
            grid = DisplacementGrid(g.step_px, g.dx, g.dy, g.origin_x - delta, g.origin_y - delta)
        return SlideTransform(affine=SlideTransform.from_matrix(m).affine, grid=grid, meta=dict(self.meta))

    def to_dict(self) -> dict:
        """JSON-safe form, as stored on the slide pair's registration."""
        out: dict = {"affine": [list(r) for r in self.affine], "grid": None}
        if self.grid is not None:
            out["grid"] = {
                "step_px": self.grid.step_px,
                "origin_x": self.grid.origin_x,
                "origin_y": self.grid.origin_y,
                "dx": np.round(self.grid.dx.astype(np.float64), 4).tolist(),
                "dy": np.round(self.grid.dy.astype(np.float64), 4).tolist(),
            }
        return out

    @classmethod
    def from_dict(cls, data: dict | None) -> SlideTransform:
        if not data:
            return cls.identity()
        affine = data.get("affine") or IDENTITY_AFFINE
        grid = None
        g = data.get("grid")
        if g:
            grid = DisplacementGrid(
                step_px=float(g["step_px"]),
                dx=np.asarray(g["dx"], dtype=np.float32),
                dy=np.asarray(g["dy"], dtype=np.float32),
                origin_x=float(g.get("origin_x", 0.0)),
                origin_y=float(g.get("origin_y", 0.0)),
            )
        return cls(affine=(tuple(map(float, affine[0])), tuple(map(float, affine[1]))), grid=grid)
