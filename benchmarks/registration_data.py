"""Registration benchmark data: pairs (synthetic scenes, a real H&E), their readers, landmarks, scoring.

Used by ``benchmarks/registration.py`` and ``benchmarks/registration_refs.py``. Pixel convention: the one
of ``annotation.imaging.transform`` (pixel i centred at i) for the engine, the truth and the scores.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from annotation.imaging.transform import DisplacementGrid, SlideTransform  # noqa: E402

BENCH = ROOT / "var" / "bench"
TIA_WHEEL = BENCH / "wheels" / "tiatoolbox-2.1.3-py3-none-any.whl"  # pip download tiatoolbox==2.1.3 --no-deps
N_LANDMARKS = 300


def log(msg: str) -> None:
    print(f"[registration-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def peak_mb() -> float:
    """This process's peak RSS (MB): VmHWM of its own address space.

    Not ``ru_maxrss``: Linux carries the parent's high-water mark into a forked and exec'd child, so a
    child of a big parent would report the parent's peak."""
    return _vmhwm_mb() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _vmhwm_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------------------------- pairs


def pair_specs(small: bool) -> list[dict]:
    """The benchmark pairs: synthetic scenes (several sizes, rotations, a mirror, partial overlap) + real H&E."""
    syn = {"kind": "synthetic", "warp_um": 3.0, "mirror": False, "if_overlap": 1.0}
    if small:
        return [
            {**syn, "name": "syn-1536-rot17", "width": 1536, "height": 1152, "seed": 1, "rotation": 17.0},
            {**syn, "name": "syn-1536-mirror-rot-62", "width": 1536, "height": 1536, "seed": 3,
             "rotation": -62.0, "mirror": True},
            {"kind": "real", "name": "real-tia-1000-rot28", "rotation": 28.0, "seed": 5},
        ]
    return [
        {**syn, "name": "syn-2967x2220-rot17", "width": 2967, "height": 2220, "seed": 1, "rotation": 17.0},
        {**syn, "name": "syn-4000x3000-rot133", "width": 4000, "height": 3000, "seed": 2, "rotation": 133.0},
        {**syn, "name": "syn-3000-mirror-rot-62", "width": 3000, "height": 3000, "seed": 3, "rotation": -62.0,
         "mirror": True},
        {**syn, "name": "syn-3000x2200-partial60-rot45", "width": 3000, "height": 2200, "seed": 4,
         "rotation": 45.0, "if_overlap": 0.6},
        {**syn, "name": "syn-8000x6000-rot200", "width": 8000, "height": 6000, "seed": 6, "rotation": 200.0},
        {"kind": "real", "name": "real-tia-1000-rot28", "rotation": 28.0, "seed": 5},
        {**syn, "name": "syn-40000-rot123", "width": 40000, "height": 40000, "seed": 40, "rotation": 123.0},
    ]


def scene_of(spec: dict):
    from mlbackend.engine.synthetic import Scene

    return Scene(width=spec["width"], height=spec["height"], seed=spec["seed"], rotation_deg=spec["rotation"],
                 mirror=spec["mirror"], warp_um=spec["warp_um"], if_overlap=spec["if_overlap"])


class SceneSlide:
    """In-memory pyramid over a synthetic Scene (renders what is read; nothing is stored)."""

    def __init__(self, scene, modality: str):
        from mlbackend.engine.synthetic import CHANNELS

        self.scene, self.modality = scene, modality
        w, h = (scene.width, scene.height) if modality == "he" else scene.if_size
        self.level_downsamples = [float(2**i) for i in range(16) if max(w, h) / 2**i >= 256 or i == 0]
        self.level_dimensions = [(math.ceil(w / d), math.ceil(h / d)) for d in self.level_downsamples]
        self.mpp = scene.mpp_he if modality == "he" else scene.mpp_if
        self.channel_names = ("R", "G", "B") if modality == "he" else CHANNELS

    def read_region(self, level: int, x: int, y: int, w: int, h: int,
                    channels: tuple[int, ...] | None = None) -> np.ndarray:
        d = self.level_downsamples[level]
        if self.modality == "he":
            return self.scene.render_he(x * d, y * d, w, h, d)
        names = None if channels is None else tuple(self.channel_names[c] for c in channels)
        return np.moveaxis(self.scene.render_if(x * d, y * d, w, h, d, channels=names), 0, -1)


class RegionCache:
    """Wraps a rendering reader: every region read is stored under ``folder`` and served from there later.

    Rendering a synthetic region costs far more than decoding it from a tiled pyramid, and the generator
    cannot write a 40,000 px pair on this host in the time available; so each pair is registered once
    to warm the cache (untimed) and then again, timed, reading only stored regions.
    """

    def __init__(self, inner, folder: Path):
        self.inner, self.folder = inner, folder
        folder.mkdir(parents=True, exist_ok=True)
        self.level_dimensions, self.level_downsamples = inner.level_dimensions, inner.level_downsamples
        self.mpp, self.channel_names = inner.mpp, inner.channel_names
        self.misses = 0

    def read_region(self, level: int, x: int, y: int, w: int, h: int,
                    channels: tuple[int, ...] | None = None) -> np.ndarray:
        """A stored region (only ``channels``, as a planar reader would); missing ones are rendered and stored."""
        tag = "" if channels is None else "_c" + "-".join(map(str, channels))
        f = self.folder / f"{level}_{x}_{y}_{w}_{h}{tag}.npy"
        if f.exists():
            try:
                return np.load(f)
            except (ValueError, OSError, EOFError):  # a write cut short by an interrupted run
                f.unlink()
        full = self.folder / f"{level}_{x}_{y}_{w}_{h}.npy"
        if channels is not None and full.exists():  # cut from a stored all-channel region: no rendering
            out = np.ascontiguousarray(np.load(full)[..., list(channels)])
        else:
            self.misses += 1
            out = np.ascontiguousarray(self.inner.read_region(level, x, y, w, h, channels=channels)
                                       if channels is not None else self.inner.read_region(level, x, y, w, h))
        tmp = f.with_suffix(".tmp.npy")
        np.save(tmp, out)
        tmp.replace(f)  # atomic: concurrent or interrupted runs never see half a file
        return out


@dataclass
class RealPair:
    he_rgb: np.ndarray
    if_img: np.ndarray  # (h, w, 2) uint16: DAPI, AF
    transform: SlideTransform
    mpp_he: float = 0.25
    mpp_if: float = 0.325


def real_pair(spec: dict) -> RealPair:
    """H&E = tiatoolbox's target_image.png; IF synthesised from it (haematoxylin -> DAPI, eosin -> AF), warped."""
    from PIL import Image

    from mlbackend.engine.registration.preprocess import rgb_optical_density
    from mlbackend.engine.synthetic.geometry import inverse_points

    png = BENCH / "target_image.png"
    if not png.exists():
        with zipfile.ZipFile(TIA_WHEEL) as z:
            png.write_bytes(z.read("tiatoolbox/data/target_image.png"))
    rgb = np.asarray(Image.open(png).convert("RGB"))
    h, w = rgb.shape[:2]
    od = rgb_optical_density(rgb).reshape(-1, 3)
    from skimage.color import rgb2hed

    hed = rgb2hed(rgb).reshape(h, w, 3)
    hema = np.clip(hed[..., 0] / np.percentile(hed[..., 0], 99.5), 0, 1.2) ** 1.5
    eos = cv2.GaussianBlur(np.clip(od.sum(1).reshape(h, w) / 3.0, 0, 1).astype(np.float32), (0, 0), 4)
    rng = np.random.default_rng(spec["seed"])
    s = 0.25 / 0.325
    t = np.deg2rad(spec["rotation"])
    lin = s * np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], float) @ lin.T
    off = -corners.min(0) + 40
    size = np.ceil(corners.max(0) - corners.min(0) + 80).astype(int)
    step = 125.0
    gy, gx = int(h / step) + 2, int(w / step) + 2
    field = [cv2.GaussianBlur(rng.standard_normal((gy, gx)).astype(np.float32), (0, 0), 1.5) for _ in range(2)]
    peak = max(float(np.abs(f).max()) for f in field)
    grid = DisplacementGrid(step, field[0] / peak * 8.0, field[1] / peak * 8.0)  # 8 px = 2 um peak
    tr = SlideTransform.from_matrix(np.hstack([lin, off[:, None]]), grid)
    qx, qy = np.meshgrid(np.arange(size[0], dtype=float), np.arange(size[1], dtype=float))
    p = inverse_points(tr, np.stack([qx.ravel(), qy.ravel()], 1), iterations=6)
    mx, my = p[:, 0].reshape(qx.shape).astype(np.float32), p[:, 1].reshape(qx.shape).astype(np.float32)
    src = np.stack([cv2.GaussianBlur(hema.astype(np.float32), (0, 0), 0.6), eos * 0.3], axis=2)
    warped = cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    img = np.clip(warped * 12000 + rng.normal(200, 40, warped.shape), 0, 65535).astype(np.uint16)
    return RealPair(rgb, img, tr)


def readers(spec: dict, cached: bool = False):
    """(H&E reader, IF reader): in-memory arrays for the real pair, rendering scene readers otherwise."""
    from mlbackend.engine.registration import ArraySlide

    if spec["kind"] == "unrelated":  # negative control: H&E of one scene, IF of another
        a, b = (readers({**spec, "kind": "synthetic", "seed": s, "name": f"{spec['name']}-{s}"}, cached)
                for s in spec["seeds"])
        return a[0], b[1]
    if spec["kind"] == "real":
        rp = real_pair(spec)
        return ArraySlide(rp.he_rgb, rp.mpp_he, ("R", "G", "B")), ArraySlide(rp.if_img, rp.mpp_if, ("DAPI", "AF"))
    scene = scene_of(spec)
    he, ifs = SceneSlide(scene, "he"), SceneSlide(scene, "if")
    if cached:
        folder = BENCH / "regions" / spec["name"]
        return RegionCache(he, folder / "he"), RegionCache(ifs, folder / "if")
    return he, ifs


@dataclass
class Landmarks:
    he: np.ndarray  # (N, 2) H&E level-0 px (at nuclei)
    if_truth: np.ndarray  # (N, 2) IF level-0 px, true position
    mpp_if: float
    diag_px: float


def landmarks(spec: dict) -> Landmarks:
    """>= 200 landmarks on tissue whose true IF position lies on the IF slide."""
    rng = np.random.default_rng(1000 + spec["seed"])
    if spec["kind"] == "real":
        rp = real_pair(spec)
        from mlbackend.engine.registration.preprocess import he_tissue_mask

        mask = he_tissue_mask(rp.he_rgb)
        ys, xs = np.nonzero(mask[20:-20, 20:-20])
        pick = rng.choice(len(xs), size=min(N_LANDMARKS * 3, len(xs)), replace=False)
        he = np.stack([xs[pick] + 20, ys[pick] + 20], 1).astype(float)
        q = rp.transform.map_points(he)
        h, w = rp.if_img.shape[:2]
        keep = (q[:, 0] > 10) & (q[:, 1] > 10) & (q[:, 0] < w - 10) & (q[:, 1] < h - 10)
        return Landmarks(he[keep][:N_LANDMARKS], q[keep][:N_LANDMARKS], rp.mpp_if, math.hypot(w, h))
    scene = scene_of(spec)
    t = scene.transform
    w_if, h_if = scene.if_size
    pts: list[np.ndarray] = []
    box = min(2000, spec["width"], spec["height"])
    for _ in range(200):
        x0 = rng.uniform(0, spec["width"] - box)
        y0 = rng.uniform(0, spec["height"] - box)
        b = scene.cell_batch_in(x0, y0, box, box)
        if len(b):
            sel = rng.choice(len(b), size=min(len(b), 60), replace=False)
            pts.append(np.stack([b.x[sel], b.y[sel]], 1))
        if sum(len(p) for p in pts) >= N_LANDMARKS * 3:
            break
    he = np.concatenate(pts)
    q = t.map_points(he)
    keep = (q[:, 0] > 20) & (q[:, 1] > 20) & (q[:, 0] < w_if - 20) & (q[:, 1] < h_if - 20)
    he, q = he[keep], q[keep]
    sel = rng.choice(len(he), size=min(N_LANDMARKS, len(he)), replace=False)
    return Landmarks(he[sel], q[sel], scene.mpp_if, math.hypot(w_if, h_if))


def he_size(spec: dict) -> tuple[int, int]:
    return (1000, 1000) if spec["kind"] == "real" else (spec["width"], spec["height"])


def pixels(spec: dict) -> int:
    w, h = he_size(spec)
    return int(w) * int(h)


def score(pred: np.ndarray, lm: Landmarks) -> dict:
    """Landmark error (um), rTRE and robustness against the initial (identity) alignment."""
    err = np.linalg.norm(pred - lm.if_truth, axis=1)
    err0 = np.linalg.norm(lm.he - lm.if_truth, axis=1)
    return {
        "n_landmarks": int(len(err)),
        "median_error_um": round(float(np.median(err)) * lm.mpp_if, 4),
        "p90_error_um": round(float(np.percentile(err, 90)) * lm.mpp_if, 4),
        "median_rtre": float(f"{np.median(err) / lm.diag_px:.3e}"),
        "robustness": round(float(np.mean(err < err0)), 4),
    }


def run_child(cmd: list[str], timeout: float) -> dict:
    """Run a child that prints one JSON object as its last stdout line."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in out.stdout.strip().splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {out.returncode}: {' | '.join(tail)}"[:600]}
    return json.loads(lines[-1])


NEGATIVE_CONTROLS = [
    {"kind": "unrelated", "name": "unrelated-1536-seeds-7-8", "width": 1536, "height": 1536, "seeds": (7, 8),
     "seed": 7, "rotation": 30.0, "mirror": False, "warp_um": 3.0, "if_overlap": 1.0},
    {"kind": "unrelated", "name": "unrelated-2967-seeds-9-10", "width": 2967, "height": 2220, "seeds": (9, 10),
     "seed": 9, "rotation": 17.0, "mirror": False, "warp_um": 3.0, "if_overlap": 1.0},
]
