"""Stateless, counter-based randomness: integer hashing, value noise and periodic textures.

Everything here is a pure function of (seed, integer coordinates), so any region of a slide can be
rendered on its own and still agree with its neighbours.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_K1 = np.uint64(0xD6E8FEB86659FD93)
_K2 = np.uint64(0xA0761D6478BD642F)
TEXTURE_PX = 512
TILED_REPEATS = 3  # textures are cached as 3 x 3 copies (1536 px square, 9 MB each)
_ROT = [(float(np.cos(a)), float(np.sin(a))) for a in (0.29, 0.61, 1.27, 2.03, 2.71, 0.37)]


def _mix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (a bijective avalanche on uint64)."""
    z = (z ^ (z >> np.uint64(30))) * _M2
    z = (z ^ (z >> np.uint64(27))) * _M3
    return z ^ (z >> np.uint64(31))


def hash_u64(*keys: np.ndarray | int) -> np.ndarray:
    """Hash broadcastable integer arrays (negative values allowed) to uint64."""
    with np.errstate(over="ignore"):
        h = np.asarray(np.uint64(0x243F6A8885A308D3))
        for k in keys:
            kk = np.asarray(k).astype(np.int64).astype(np.uint64)
            h = _mix(h ^ (kk + _GOLDEN + (h << np.uint64(6)) + (h >> np.uint64(2))))
        return h


def uniform(*keys: np.ndarray | int) -> np.ndarray:
    """Uniform floats in [0, 1) from integer keys."""
    return (hash_u64(*keys) >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def normal(*keys: np.ndarray | int) -> np.ndarray:
    """Standard normal floats from integer keys (Box-Muller on two hashed uniforms)."""
    u1 = np.maximum(uniform(*keys, 0x51), 1e-12)
    u2 = uniform(*keys, 0x52)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def uniform_from(base: np.ndarray, attr: int) -> np.ndarray:
    """Uniform floats in [0, 1) for attribute ``attr`` of items with precomputed base hashes (one mix)."""
    with np.errstate(over="ignore"):
        h = _mix(base ^ np.uint64((attr * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def normal_from(base: np.ndarray, attr: int) -> np.ndarray:
    """Standard normal floats for attribute ``attr`` of items with precomputed base hashes."""
    u1 = np.maximum(uniform_from(base, 2 * attr + 1001), 1e-12)
    u2 = uniform_from(base, 2 * attr + 1002)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _smooth(f: np.ndarray) -> np.ndarray:
    return f * f * (3.0 - 2.0 * f)


def _lattice(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """Uniform [0, 1) lattice values (one multiply-add and one mix per point)."""
    z = ix.astype(np.uint64) * _K1 + iy.astype(np.uint64) * _K2 + np.uint64((salt * 0x2545F4914F6CDD1D) % 2**64)
    return (_mix(z) >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def value_noise(x: np.ndarray, y: np.ndarray, scale: float, salt: int) -> np.ndarray:
    """Smooth value noise in [0, 1] at points (x, y) with lattice spacing ``scale`` (same units)."""
    gx = np.atleast_1d(np.asarray(x, dtype=np.float64) / scale)
    gy = np.atleast_1d(np.asarray(y, dtype=np.float64) / scale)
    ix = np.floor(gx)
    iy = np.floor(gy)
    fx = _smooth(gx - ix)
    fy = _smooth(gy - iy)
    ix = ix.astype(np.int64)
    iy = iy.astype(np.int64)
    with np.errstate(over="ignore"):
        v00 = _lattice(ix, iy, salt)
        v10 = _lattice(ix + 1, iy, salt)
        v01 = _lattice(ix, iy + 1, salt)
        v11 = _lattice(ix + 1, iy + 1, salt)
    top = v00 + (v10 - v00) * fx
    bottom = v01 + (v11 - v01) * fx
    return top + (bottom - top) * fy


def fbm(x: np.ndarray, y: np.ndarray, scale: float, octaves: int, salt: int, min_scale: float = 0.0) -> np.ndarray:
    """Fractal sum of value noise, normalised to [0, 1]; octaves finer than ``min_scale`` add their mean."""
    total = np.zeros(np.broadcast(np.asarray(x), np.asarray(y)).shape, dtype=np.float64)
    amp, norm, s = 1.0, 0.0, float(scale)
    for octave in range(octaves):
        if s >= min_scale:
            # rotate each octave's lattice so axis-aligned lattice artefacts do not line up
            c, sn = _ROT[octave % len(_ROT)]
            xr = np.asarray(x) * c - np.asarray(y) * sn
            yr = np.asarray(x) * sn + np.asarray(y) * c
            total += amp * value_noise(xr, yr, s, salt * 131 + octave)
        else:
            total += amp * 0.5
        norm += amp
        amp *= 0.5
        s *= 0.5
    return total / norm


def interp_index(pos: np.ndarray, node0: int, n_nodes: int, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation (i0, i1, weight of i1) from nodes at (node0 + k) * step to positions ``pos``."""
    g = np.clip(np.asarray(pos, dtype=np.float64) / step - node0, 0.0, n_nodes - 1.000001)
    i0 = np.floor(g).astype(np.int64)
    return i0, np.minimum(i0 + 1, n_nodes - 1), (g - i0).astype(np.float32)


def upsample(v: np.ndarray, iy: tuple, ix: tuple) -> np.ndarray:
    """Separable linear interpolation of a coarse (ny, nx) grid to (len(pos_y), len(pos_x)) (no BLAS).

    Interpolates along x on the small grid first, so the full-size pass only gathers whole rows.
    """
    v = np.asarray(v, dtype=np.float32)
    cols = v[:, ix[0]] * (1.0 - ix[2])[None, :] + v[:, ix[1]] * ix[2][None, :]
    out = cols[iy[0]]
    out *= (1.0 - iy[2])[:, None]
    out += cols[iy[1]] * iy[2][:, None]
    return out


@lru_cache(maxsize=8)
def textures(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Periodic (TEXTURE_PX square) textures: fine chromatin-like blobs and white grain, zero mean, unit sd."""
    rng = np.random.default_rng([seed, 0x7E7])
    white = rng.standard_normal((TEXTURE_PX, TEXTURE_PX)).astype(np.float32)
    pad = 8  # wrap-pad by hand (cv2 blurs do not support BORDER_WRAP) so the blurred texture tiles seamlessly
    padded = np.pad(white, pad, mode="wrap")
    blobs = cv2.GaussianBlur(padded, (0, 0), 1.1)[pad:-pad, pad:-pad]
    blobs = (blobs - blobs.mean()) / blobs.std()
    grain = rng.standard_normal((TEXTURE_PX, TEXTURE_PX)).astype(np.float32)
    out = []
    for tex in (blobs, grain):
        tiled = np.tile(tex, (TILED_REPEATS, TILED_REPEATS))  # so most windows are plain slices
        tiled.setflags(write=False)
        out.append(tiled)
    return out[0], out[1]


def texture_window(tex: np.ndarray, col0: int, row0: int, w: int, h: int) -> np.ndarray:
    """A read-only (h, w) window of a periodic texture starting at global output pixel (col0, row0)."""
    n = TEXTURE_PX
    r, c = row0 % n, col0 % n
    if r + h <= tex.shape[0] and c + w <= tex.shape[1]:
        return tex[r : r + h, c : c + w]
    rows = (row0 + np.arange(h)) % n
    cols = (col0 + np.arange(w)) % n
    return tex[rows[:, None], cols[None, :]]
