"""Nuclei as a lazily generated vector scene: one candidate slot per cell of a global jittered grid.

Each slot's nucleus (and its optional touching partner) is a pure function of (seed, slot column, slot
row), so the cells of any region come out the same whichever region or order asks for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from functools import lru_cache

import numpy as np

from mlbackend.engine.synthetic import config as C
from mlbackend.engine.synthetic.fields import occupancy
from mlbackend.engine.synthetic.noise import hash_u64, normal_from, uniform_from

JITTER = 0.8  # fraction of a slot a centre may move
CHUNK_SLOTS = 32  # slots per side of a cached generation chunk


@dataclass(frozen=True)
class Cell:
    """One ground-truth nucleus in H&E level-0 pixels."""

    id: int
    x: float
    y: float
    cls: str
    polygon: np.ndarray = field(compare=False, repr=False)  # (V, 2) vertices, level-0 H&E px
    radius: float = 0.0  # equivalent-circle radius, level-0 H&E px


@dataclass(frozen=True)
class CellBatch:
    """Struct-of-arrays form of many nuclei (what the renderers use)."""

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    cls: np.ndarray  # int index into CLASSES
    radius: np.ndarray  # equivalent radius px
    axis_a: np.ndarray
    axis_b: np.ndarray
    angle: np.ndarray
    harm_amp: np.ndarray  # (n, 3) for harmonics 2, 3, 5
    harm_phase: np.ndarray
    stain: np.ndarray
    texture: np.ndarray
    dapi: np.ndarray
    markers: np.ndarray  # (n, 3) WT1, CD31, PDGFRB brightness (0 = negative)
    cues: np.ndarray  # (n, 3) fine-cue strengths: nucleolus, granularity, margination (config.FINE_CUES)
    nucleolus_offset: np.ndarray  # (n, 2) nucleolus position relative to the centre, in radii

    def __len__(self) -> int:
        return int(self.ids.size)

    def take(self, sel: np.ndarray) -> CellBatch:
        """A sub-batch by boolean mask or index array."""
        return CellBatch(**{f.name: getattr(self, f.name)[sel] for f in fields(self)})

    def polygons(self, n_vertices: int = C.N_VERTICES) -> np.ndarray:
        """(n, V, 2) outline vertices in level-0 H&E px."""
        theta = np.linspace(0.0, 2.0 * np.pi, n_vertices, endpoint=False)[None, :]
        rel = theta - self.angle[:, None]
        a, b = self.axis_a[:, None], self.axis_b[:, None]
        r = a * b / np.sqrt((b * np.cos(rel)) ** 2 + (a * np.sin(rel)) ** 2)
        wobble = np.ones_like(r)
        for k, order in enumerate((2, 3, 5)):
            wobble += self.harm_amp[:, k : k + 1] * np.cos(order * theta + self.harm_phase[:, k : k + 1])
        r = r * wobble
        return np.stack([self.x[:, None] + r * np.cos(theta), self.y[:, None] + r * np.sin(theta)], axis=-1)

    def to_cells(self) -> list[Cell]:
        """Materialise as frozen Cell objects."""
        polys = self.polygons()
        return [
            Cell(int(i), float(x), float(y), C.CLASSES[int(c)], p, float(r))
            for i, x, y, c, p, r in zip(self.ids, self.x, self.y, self.cls, polys, self.radius)
        ]


def slot_px(cfg: C.SceneConfig) -> float:
    return cfg.cell_spacing_um / cfg.mpp_he


def slot_grid(cfg: C.SceneConfig) -> tuple[int, int]:
    """(columns, rows) of the slot grid covering the slide."""
    s = slot_px(cfg)
    return int(np.ceil(cfg.width / s)), int(np.ceil(cfg.height / s))


def max_reach_px(cfg: C.SceneConfig) -> float:
    """Upper bound on how far a nucleus outline can reach from its slot centre."""
    r_max = 6.5 / cfg.mpp_he * 1.6
    return slot_px(cfg) * (0.5 + JITTER / 2) + 3.0 * r_max


def _attributes(cfg: C.SceneConfig, base: np.ndarray) -> dict[str, np.ndarray]:
    """Appearance attributes of nuclei from their base hashes."""
    sep = cfg.he_separation
    w = np.cumsum(np.asarray(cfg.class_weights, dtype=np.float64))
    cls = np.searchsorted(w / w[-1], uniform_from(base, 3), side="right")
    cls = np.minimum(cls, len(C.CLASSES) - 1).astype(np.int8)
    off = {name: np.array([getattr(s, name) for s in C.CLASS_STYLES])[cls] * sep for name in
           ("radius_um", "log_aspect", "stain", "texture", "irregularity")}
    r_um = np.clip(C.MEAN_RADIUS_UM + off["radius_um"] + C.SD_RADIUS_UM * normal_from(base, 4), 1.8, 6.5)
    la = np.clip(C.MEAN_LOG_ASPECT + off["log_aspect"] + C.SD_LOG_ASPECT * normal_from(base, 5), 0.0, 1.2)
    irr = np.clip(C.MEAN_IRREGULARITY + off["irregularity"] + C.SD_IRREGULARITY * normal_from(base, 7), 0.0, 0.18)
    r = r_um / cfg.mpp_he
    harm_amp = np.stack([irr * (0.4 + uniform_from(base, 8 + j)) for j in range(3)], axis=-1)
    harm_phase = np.stack([2.0 * np.pi * uniform_from(base, 11 + j) for j in range(3)], axis=-1)
    return {
        "cls": cls, "radius": r, "axis_a": r * np.exp(la / 2), "axis_b": r * np.exp(-la / 2),
        "angle": np.pi * uniform_from(base, 6), "harm_amp": harm_amp, "harm_phase": harm_phase,
        "stain": np.clip(C.MEAN_STAIN + off["stain"] + C.SD_STAIN * normal_from(base, 14), 0.35, 1.8),
        "texture": np.clip(C.MEAN_TEXTURE + off["texture"] + C.SD_TEXTURE * normal_from(base, 15), 0.03, 0.5),
        "dapi": np.clip(0.8 + 0.15 * normal_from(base, 16), 0.35, 1.2), "markers": _markers(cfg, base, cls),
        "cues": _cues(cfg, base, cls),
        "nucleolus_offset": np.stack([0.25 * normal_from(base, 28 + j) for j in range(2)], axis=-1).clip(-0.4, 0.4),
    }


def _cues(cfg: C.SceneConfig, base: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Per-cell fine-cue strengths (nucleolus, granularity, margination): class mean plus overlap, >= 0."""
    means = np.array([[c.nucleolus, c.granularity, c.margination] for c in C.FINE_CUES])[cls]
    noise = np.stack([normal_from(base, 25 + j) for j in range(3)], axis=-1)
    return np.clip(means + C.CUE_SD * noise, 0.0, 1.5) * cfg.he_fine_cues


def _markers(cfg: C.SceneConfig, base: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Marker brightness: own marker mostly bright (some dim), rare faint signal in another marker."""
    n = cls.size
    own = np.clip(np.exp(0.25 * normal_from(base, 17)), 0.5, 1.6)
    dim = uniform_from(base, 18) < cfg.marker_dim_fraction
    own = np.where(dim, 0.2 + 0.25 * uniform_from(base, 19), own)
    out = np.zeros((n, 3))
    rows = np.arange(n)
    out[rows, cls] = own
    cross = uniform_from(base, 20) < cfg.marker_crosstalk_fraction
    other = (cls + 1 + (uniform_from(base, 21) * 2).astype(np.int64)) % 3
    out[rows[cross], other[cross]] = 0.08 + 0.17 * uniform_from(base, 22)[cross]
    return out


@lru_cache(maxsize=256)
def _chunk(cfg: C.SceneConfig, chunk_x: int, chunk_y: int) -> CellBatch:
    """All nuclei of the slots of one global chunk (cached: neighbouring tiles share chunks)."""
    s = slot_px(cfg)
    ncols, nrows = slot_grid(cfg)
    cx0, cy0 = chunk_x * CHUNK_SLOTS, chunk_y * CHUNK_SLOTS
    iy, ix = np.meshgrid(np.arange(cy0, min(cy0 + CHUNK_SLOTS, nrows)),
                         np.arange(cx0, min(cx0 + CHUNK_SLOTS, ncols)), indexing="ij")
    ix, iy = ix.ravel(), iy.ravel()
    slot_hash = hash_u64(cfg.seed, ix, iy)
    x = (ix + 0.5 + JITTER * (uniform_from(slot_hash, 1) - 0.5)) * s
    y = (iy + 0.5 + JITTER * (uniform_from(slot_hash, 2) - 0.5)) * s
    occupied = uniform_from(slot_hash, 0) < occupancy(cfg, x, y)
    ix, iy, x, y, slot_hash = ix[occupied], iy[occupied], x[occupied], y[occupied], slot_hash[occupied]
    first = _attributes(cfg, hash_u64(slot_hash, 0))
    has_partner = uniform_from(slot_hash, 23) < cfg.partner_fraction
    second = _attributes(cfg, hash_u64(slot_hash[has_partner], 1))
    phi = 2.0 * np.pi * uniform_from(slot_hash[has_partner], 24)
    dist = 0.85 * (first["radius"][has_partner] + second["radius"])
    slot = iy.astype(np.int64) * ncols + ix
    merged = {name: np.concatenate([first[name], second[name]]) for name in first}
    batch = CellBatch(
        ids=np.concatenate([slot * 2, slot[has_partner] * 2 + 1]),
        x=np.concatenate([x, x[has_partner] + dist * np.cos(phi)]),
        y=np.concatenate([y, y[has_partner] + dist * np.sin(phi)]),
        **merged,
    )
    inside = (batch.x >= 0) & (batch.x < cfg.width) & (batch.y >= 0) & (batch.y < cfg.height)
    order = np.argsort(batch.ids[inside], kind="stable")
    out = batch.take(np.flatnonzero(inside)[order])
    for f in fields(out):
        getattr(out, f.name).setflags(write=False)
    return out


def iter_cell_batches(cfg: C.SceneConfig, x0: float, y0: float, x1: float, y1: float) -> Iterator[CellBatch]:
    """Batches of all nuclei that may reach into level-0 box [x0, x1) x [y0, y1) (a superset)."""
    s = slot_px(cfg)
    ncols, nrows = slot_grid(cfg)
    reach = max_reach_px(cfg)
    cx0 = max(0, int(np.floor((x0 - reach) / s)))
    cx1 = min(ncols - 1, int(np.floor((x1 + reach) / s)))
    cy0 = max(0, int(np.floor((y0 - reach) / s)))
    cy1 = min(nrows - 1, int(np.floor((y1 + reach) / s)))
    for ky in range(cy0 // CHUNK_SLOTS, cy1 // CHUNK_SLOTS + 1):
        for kx in range(cx0 // CHUNK_SLOTS, cx1 // CHUNK_SLOTS + 1):
            batch = _chunk(cfg, kx, ky)
            if len(batch):
                yield batch


def concat(batches: list[CellBatch]) -> CellBatch:
    """Join batches into one."""
    if not batches:
        return empty_batch()
    return CellBatch(**{f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(CellBatch)})


def empty_batch() -> CellBatch:
    z = np.zeros(0)
    return CellBatch(ids=np.zeros(0, np.int64), x=z, y=z, cls=np.zeros(0, np.int8), radius=z, axis_a=z,
                     axis_b=z, angle=z, harm_amp=np.zeros((0, 3)), harm_phase=np.zeros((0, 3)), stain=z,
                     texture=z, dapi=z, markers=np.zeros((0, 3)), cues=np.zeros((0, 3)),
                     nucleolus_offset=np.zeros((0, 2)))


def cells_in_box(cfg: C.SceneConfig, x0: float, y0: float, x1: float, y1: float, pad: float = 0.0) -> CellBatch:
    """Nuclei whose centre lies in [x0 - pad, x1 + pad) x [y0 - pad, y1 + pad)."""
    keep = []
    for b in iter_cell_batches(cfg, x0 - pad, y0 - pad, x1 + pad, y1 + pad):
        sel = (b.x >= x0 - pad) & (b.x < x1 + pad) & (b.y >= y0 - pad) & (b.y < y1 + pad)
        if sel.any():
            keep.append(b.take(sel))
    return concat(keep)
