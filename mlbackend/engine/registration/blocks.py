"""Block-wise matching: sample blocks on tissue, read them through the current transform, phase-correlate."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from annotation.imaging.transform import SlideTransform

from .preprocess import he_nuclear, if_nuclear
from .slides import SlideView, read_block

PEAK_SIGMA_PX = 1.0  # width of the (Gaussian-weighted) correlation peak, for sub-pixel fitting
BATCH = 128  # blocks correlated per FFT call


@dataclass(frozen=True)
class BlockMatches:
    """Per-block shift (level-0 H&E px) of the IF content relative to the current transform."""

    centres: np.ndarray  # (N, 2) H&E level-0 px
    shifts: np.ndarray  # (N, 2) H&E level-0 px: true T(p) = current T(p + shift)
    ncc: np.ndarray  # (N,) correlation of the blocks after the shift
    psr: np.ndarray  # (N,) peak-to-sidelobe ratio of the correlation surface
    mpp: float  # pixel size the blocks were matched at (um)


def sample_centres(mask: np.ndarray, mask_ds: float, block_l0: float, max_blocks: int,
                   offset: float = 0.0) -> np.ndarray:
    """Centres (level-0 px) of up to ``max_blocks`` blocks lying mostly on tissue, on a regular lattice."""
    k = max(1, int(round(block_l0 / mask_ds)))
    frac = cv2.blur(mask.astype(np.float32), (k, k))
    ok = frac >= 0.5
    n_ok = int(ok.sum())
    if n_ok == 0:
        return np.zeros((0, 2))
    spacing = max(k / 2.0, np.sqrt(n_ok / max_blocks))
    xs = np.arange((0.5 + offset) * spacing, mask.shape[1], spacing)
    ys = np.arange((0.5 + offset) * spacing, mask.shape[0], spacing)
    gx, gy = np.meshgrid(xs, ys)
    gx, gy = gx.ravel(), gy.ravel()
    keep = ok[gy.astype(int), gx.astype(int)]
    pts = np.stack([gx[keep], gy[keep]], axis=1)
    if len(pts) > max_blocks:
        pts = pts[np.linspace(0, len(pts) - 1, max_blocks).astype(int)]
    return (pts + 0.5) * mask_ds - 0.5


def _prep(a: np.ndarray) -> np.ndarray:
    k = max(3, a.shape[0] // 5) | 1
    hp = a - cv2.blur(cv2.blur(a, (k, k)), (k, k))  # cheap band-pass: remove the slowly varying stain
    hp = hp / (hp.std() + 1e-6)
    return hp * _hann(a.shape)


def _hann(shape: tuple[int, int]) -> np.ndarray:
    key = tuple(shape)
    if key not in _HANN:
        _HANN[key] = cv2.createHanningWindow(key[::-1], cv2.CV_32F)
    return _HANN[key]


_HANN: dict[tuple[int, int], np.ndarray] = {}


def phase_shift(ref: np.ndarray, mov: np.ndarray) -> tuple[float, float, float]:
    """Shift s with mov(x + s) ~ ref(x), by Gaussian-weighted phase correlation; also the peak-to-sidelobe ratio."""
    sx, sy, psr = phase_shifts(_prep(ref)[None], _prep(mov)[None])
    return float(sx[0]), float(sy[0]), float(psr[0])


def phase_shifts(refs: np.ndarray, movs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched phase correlation of prepared (N, n, m) stacks: sub-pixel shifts (x, y) and peak-to-sidelobe ratios.

    The normalised cross-power spectrum is weighted by a Gaussian (a peak of ``PEAK_SIGMA_PX``), so the peak
    is smooth and a parabola through the log of its three samples per axis (exact for a Gaussian) places it.
    """
    nb, n, m = refs.shape
    r = np.fft.rfft2(movs) * np.conj(np.fft.rfft2(refs))
    r /= np.abs(r) + 1e-9
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.rfftfreq(m)[None, :]
    r *= np.exp(-2 * (np.pi * PEAK_SIGMA_PX) ** 2 * (fx**2 + fy**2))
    c = np.fft.irfft2(r, s=(n, m))
    flat = c.reshape(nb, -1)
    k = np.argmax(flat, axis=1)
    iy, ix = k // m, k % m
    b = np.arange(nb)
    peak = flat[b, k]
    out = []
    for i, size, left, right in ((ix, m, c[b, iy, (ix - 1) % m], c[b, iy, (ix + 1) % m]),
                                 (iy, n, c[b, (iy - 1) % n, ix], c[b, (iy + 1) % n, ix])):
        v0, v1, v2 = (np.log(np.clip(v, 1e-12, None)) for v in (left, peak, right))
        den = v0 - 2 * v1 + v2
        frac = np.where(den < 0, 0.5 * (v0 - v2) / np.where(den < 0, den, -1.0), 0.0)
        out.append(np.where(i <= size // 2, i, i - size) + np.clip(frac, -0.5, 0.5))
    # side-lobe statistics: everything but the 7x7 peak neighbourhood
    wy = (iy[:, None] + np.arange(-3, 4)[None, :]) % n
    wx = (ix[:, None] + np.arange(-3, 4)[None, :]) % m
    near = c[b[:, None, None], wy[:, :, None], wx[:, None, :]]
    cnt = n * m - 49
    mean = (flat.sum(1) - near.sum((1, 2))) / cnt
    var = np.maximum(((flat * flat).sum(1) - (near * near).sum((1, 2))) / cnt - mean * mean, 0.0)
    psr = (peak - mean) / (np.sqrt(var) + 1e-12)
    return out[0], out[1], psr


def shifted_ncc(ref: np.ndarray, mov: np.ndarray, sx: float, sy: float) -> float:
    """Correlation of ref and mov moved back by (sx, sy), over the central part of the block."""
    m = np.float32([[1, 0, sx], [0, 1, sy]])
    back = cv2.warpAffine(mov, m, ref.shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    q = ref.shape[0] // 8
    a, b = ref[q:-q, q:-q].astype(np.float64), back[q:-q, q:-q].astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-12))


def _he_block(view: SlideView, cx: float, cy: float, ds: float, block: int, max_px: int) -> tuple[np.ndarray, float, float]:
    lvl = view.level_for(ds)
    f = ds / view.level_ds[lvl]
    x0, y0 = cx - block * ds / 2.0, cy - block * ds / 2.0
    lx, ly = int(np.floor(x0 / view.level_ds[lvl])), int(np.floor(y0 / view.level_ds[lvl]))
    n = int(np.ceil(block * f)) + 1
    raw = he_nuclear(read_block(view, lvl, lx, ly, n, n, max_px, (0, 1, 2), fill=255.0))
    # resample exactly onto the pass grid p = x0 + ds * (j + 0.5) - 0.5
    j = np.arange(block, dtype=np.float64)
    gx = ((x0 + ds * (j + 0.5) - 0.5) + 0.5) / view.level_ds[lvl] - 0.5 - lx
    gy = ((y0 + ds * (j + 0.5) - 0.5) + 0.5) / view.level_ds[lvl] - 0.5 - ly
    small = raw if f < 1.5 else cv2.GaussianBlur(raw, (0, 0), 0.4 * f)
    mx, my = np.meshgrid(gx.astype(np.float32), gy.astype(np.float32))
    return cv2.remap(small, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT), x0, y0


def _axis_interp(n_out: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    k = np.arange(n_out) * (n - 1) / max(n_out - 1, 1)
    i0 = np.minimum(np.floor(k).astype(int), n - 2)
    return i0, k - i0


def mapped_grid(t: SlideTransform, x0: float, y0: float, ds: float, w: int, h: int,
                sub: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """IF level-0 coordinates of the pixel grid p = (x0, y0) + ds * (j + 0.5) - 0.5 (w x h pixels).

    Exact on every ``sub``-th node and bilinear between: exact for the affine, and the displacement grid
    is bilinear over steps far larger than ``sub`` pixels, so ~``sub**2`` times fewer points are mapped.
    """
    nx, ny = max(2, int(np.ceil((w - 1) / sub)) + 1), max(2, int(np.ceil((h - 1) / sub)) + 1)
    jx, jy = np.linspace(0, max(w - 1, 1), nx), np.linspace(0, max(h - 1, 1), ny)
    px, py = np.meshgrid(x0 + ds * (jx + 0.5) - 0.5, y0 + ds * (jy + 0.5) - 0.5)
    cx, cy = t.map_grid(px, py)
    (ix, fx), (iy, fy) = _axis_interp(w, nx), _axis_interp(h, ny)
    up = []
    for c in (cx, cy):  # separable bilinear interpolation in float64 (no BLAS: it thrashes on busy hosts)
        rows = c[iy] * (1 - fy)[:, None] + c[iy + 1] * fy[:, None]
        up.append(rows[:, ix] * (1 - fx)[None, :] + rows[:, ix + 1] * fx[None, :])
    return up[0], up[1]


def _if_block(view: SlideView, t: SlideTransform, x0: float, y0: float, ds_he: float, ds_if: float,
              block: int, nuc: int, af: int | None, max_px: int) -> np.ndarray:
    qx, qy = mapped_grid(t, x0, y0, ds_he, block, block, sub=8)
    lvl = view.level_for(ds_if)
    lds = view.level_ds[lvl]
    qx, qy = (qx + 0.5) / lds - 0.5, (qy + 0.5) / lds - 0.5
    bx, by = int(np.floor(qx.min())) - 2, int(np.floor(qy.min())) - 2
    bw, bh = int(np.ceil(qx.max())) + 3 - bx, int(np.ceil(qy.max())) + 3 - by
    nucimg = if_nuclear(read_block(view, lvl, bx, by, bw, bh, max_px, (nuc,)), 0, None)
    f = ds_if / lds
    if f >= 1.5:
        nucimg = cv2.GaussianBlur(nucimg, (0, 0), 0.4 * f)
    return cv2.remap(nucimg, (qx - bx).astype(np.float32), (qy - by).astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT)


def match_blocks(he: SlideView, ifv: SlideView, t: SlideTransform, centres: np.ndarray, mpp: float,
                 block: int, nuc: int, af: int | None, max_px: int) -> BlockMatches:
    """Phase-correlate H&E haematoxylin and warped IF nuclear blocks at pixel size ``mpp``.

    Blocks are read one by one and correlated in batches of ``BATCH`` (one FFT call per batch), so memory
    stays at a few batches of blocks whatever their number.
    """
    ds_he = mpp / he.mpp
    ds_if = max(ds_he * t.scale(), 1.0)  # IF level-0 px per pass px
    centres = np.asarray(centres, float).reshape(-1, 2)
    out = np.zeros((len(centres), 4))  # sx, sy, psr, ncc in pass px
    for i in range(0, len(centres), BATCH):
        raws = []
        for cx, cy in centres[i : i + BATCH]:
            ref, x0, y0 = _he_block(he, float(cx), float(cy), ds_he, block, max_px)
            raws.append((ref, _if_block(ifv, t, x0, y0, ds_he, ds_if, block, nuc, af, max_px)))
        sx, sy, psr = phase_shifts(np.stack([_prep(r) for r, _ in raws]), np.stack([_prep(m) for _, m in raws]))
        ncc = [shifted_ncc(r, m, float(a), float(b)) for (r, m), a, b in zip(raws, sx, sy)]
        out[i : i + len(raws)] = np.column_stack([sx, sy, psr, ncc])
    return BlockMatches(centres, out[:, :2] * ds_he, out[:, 3], out[:, 2], mpp)
