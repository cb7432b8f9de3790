"""Benchmark: IF -> H&E registration on pairs with a known transform, against palom and itk-elastix.

    .venv/bin/python benchmarks/registration.py --json [--small] [--no-references] [--only a,b]

Prints ONE JSON object on stdout (progress on stderr). Every method runs in its own child process per
pair, so ``peak_mb`` is that process's maximum RSS. Errors are measured at >= 200 landmarks on tissue,
in micrometres of the IF slide; rTRE divides by the IF image diagonal (ANHIR); robustness is the share
of landmarks closer to the truth than under the initial (identity) alignment.

Pixel convention: one for all (see annotation/imaging/transform.py): pixel i is centred at i. The
generator's ``Scene.transform`` is in that convention, so truth is used as it comes.
"""

from __future__ import annotations

import argparse
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
PALOM_PY = BENCH / "palom-venv" / "bin" / "python"
PALOM_FALLBACK_PY = BENCH / "palom-venv-b" / "bin" / "python"  # palom --no-deps + scikit-image 0.22 wheels
ELASTIX_PY = BENCH / "elastix-venv" / "bin" / "python"
TIA_WHEEL = BENCH / "wheels" / "tiatoolbox-2.1.3-py3-none-any.whl"
REF_MAX_SIDE = 4200  # the references read whole level-0 images; they run on pairs up to this size
N_LANDMARKS = 300


def log(msg: str) -> None:
    print(f"[registration-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


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

    def read_region(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        d = self.level_downsamples[level]
        if self.modality == "he":
            return self.scene.render_he(x * d, y * d, w, h, d)
        return np.moveaxis(self.scene.render_if(x * d, y * d, w, h, d), 0, -1)


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

    def read_region(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        f = self.folder / f"{level}_{x}_{y}_{w}_{h}.npy"
        if f.exists():
            try:
                return np.load(f)
            except (ValueError, OSError, EOFError):  # a write cut short by an interrupted run
                f.unlink()
        self.misses += 1
        out = np.ascontiguousarray(self.inner.read_region(level, x, y, w, h))
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


# --------------------------------------------------------------------------------------------- runs


def child_ours(spec: dict) -> dict:
    """Run the engine on one pair (in this process) and report transform, status, time and memory."""
    from mlbackend.engine.registration import register_pair

    he, ifs = readers(spec, cached=True)
    t0 = time.perf_counter()
    res = register_pair(he, ifs)
    seconds = time.perf_counter() - t0
    misses = sum(getattr(r, "misses", 0) for r in (he, ifs))
    return {"transform": res.transform.to_dict(), "status": res.status, "reason": res.reason,
            "metrics": res.metrics, "seconds": round(seconds, 2), "peak_mb": round(peak_mb(), 1),
            "uncached_reads": misses}


def export_for_reference(spec: dict, work: Path) -> Path:
    """Level-0 nuclear images (haematoxylin OD, DAPI) as .npy for the reference methods' own venvs."""
    from mlbackend.engine.registration.preprocess import he_nuclear

    work.mkdir(parents=True, exist_ok=True)
    if (work / "he_nuc.npy").exists():
        return work
    he, ifs = readers(spec)
    (w, h), (wi, hi) = he.level_dimensions[0], ifs.level_dimensions[0]
    rgb = he.read_region(0, 0, 0, w, h)
    img = np.asarray(ifs.read_region(0, 0, 0, wi, hi))
    np.save(work / "he_nuc.npy", he_nuclear(rgb).astype(np.float32))
    np.save(work / "if_nuc.npy", np.sqrt(img[..., 0].astype(np.float32)))
    (work / "meta.json").write_text(json.dumps({"mpp_he": he.mpp, "mpp_if": ifs.mpp}))
    return work


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


def evaluate_ours(spec: dict) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps(spec)]
    if spec["kind"] != "real":
        warm = run_child(cmd, timeout=3600)  # renders and stores the regions the engine reads (untimed)
        if "error" in warm:
            return warm
    res = run_child(cmd, timeout=1800)
    if "error" in res:
        return res
    lm = landmarks(spec)
    row = score(SlideTransform.from_dict(res["transform"]).map_points(lm.he), lm)
    m = res["metrics"]
    row.update(status=res["status"], reason=res["reason"], seconds=res["seconds"], peak_mb=res["peak_mb"],
               residual_um_estimate=m.get("residual_um"), coarse_method=m.get("coarse_method"),
               uncached_reads=res.get("uncached_reads", 0))
    return row


def reference_python(method: str) -> Path | None:
    """The venv interpreter for a reference: palom with its own pins if they installed, else the fallback venv."""
    cands = [PALOM_PY, PALOM_FALLBACK_PY] if method == "palom" else [ELASTIX_PY]
    module = "palom" if method == "palom" else "itk"
    for py in cands:
        if py.exists() and subprocess.run([str(py), "-c", f"import {module}"], capture_output=True).returncode == 0:
            return py
    return None


def evaluate_reference(method: str, spec: dict) -> dict:
    py = reference_python(method)
    if py is None:
        return {"error": f"{method} could not be installed/imported in its venv under {BENCH}"}
    work = export_for_reference(spec, BENCH / "cache" / spec["name"])
    lm = landmarks(spec)
    np.save(work / "landmarks_he.npy", lm.he)
    script = BENCH / "cache" / f"ref_{method}.py"
    script.write_text(PALOM_SCRIPT if method == "palom" else ELASTIX_SCRIPT)
    res = run_child([str(py), str(script), str(work)], timeout=1800)
    if "error" in res:
        return res
    row = score(np.asarray(res["pred_if"], dtype=np.float64).reshape(-1, 2), lm)
    row.update(seconds=res["seconds"], peak_mb=res["peak_mb"], venv=py.parent.parent.name)
    return row


def summarise(rows: list[dict]) -> dict:
    """Overall keys over the pairs a method ran on (median of per-pair medians, worst p90)."""
    done = [r for r in rows if "median_error_um" in r]
    if not done:
        return {"pairs": 0, "error": rows[0].get("error", "did not run") if rows else "did not run"}
    largest = max(done, key=lambda r: r["pixels"])
    return {
        "pairs": len(done),
        "median_error_um": round(float(np.median([r["median_error_um"] for r in done])), 4),
        "p90_error_um": round(float(max(r["p90_error_um"] for r in done)), 4),
        "median_rtre": float(f"{np.median([r['median_rtre'] for r in done]):.3e}"),
        "robustness": round(float(np.mean([r["robustness"] for r in done])), 4),
        "seconds_largest_pair": largest["seconds"],
        "largest_pair": largest["pair"],
        "peak_mb": round(float(max(r["peak_mb"] for r in done)), 1),
        "failed_pairs": [r["pair"] for r in rows if "median_error_um" not in r],
    }


# ------------------------------------------------------------------------- reference scripts (own venvs)

PALOM_SCRIPT = r'''
import json, resource, sys, time
from pathlib import Path
import numpy as np, dask.array as da, cv2
import palom
w = Path(sys.argv[1])
he, mv = np.load(w / "he_nuc.npy"), np.load(w / "if_nuc.npy")
lm = np.load(w / "landmarks_he.npy")
t0 = time.perf_counter()
def thumb(a, f):
    return cv2.resize(a, (max(1, a.shape[1] // f), max(1, a.shape[0] // f)), interpolation=cv2.INTER_AREA)
f = 1
while max(he.shape) / f > 1200:
    f *= 2
chunk = 512 if min(he.shape) >= 2000 else 256  # enough blocks for constrain_shifts' line fit
ref_da, mov_da = da.from_array(he, chunks=chunk), da.from_array(mv, chunks=chunk)
al = palom.align.Aligner(ref_da, mov_da, thumb(he, f), thumb(mv, f), f, f)
al.coarse_register_affine(n_keypoints=4000, plot_match_result=False, test_flip=True)
al.compute_shifts()
al.constrain_shifts()
mxs = al.block_affine_matrices
ch, cw = ref_da.chunksize
ncols = ref_da.numblocks[1]
x, y = lm[:, 0] + 0.0, lm[:, 1] + 0.0
r = np.clip((y // ch).astype(int), 0, ref_da.numblocks[0] - 1)
c = np.clip((x // cw).astype(int), 0, ncols - 1)
m = np.linalg.inv(mxs[r * ncols + c])  # palom's matrices map IF px -> H&E px (cv2.warpAffine of the IF)
pred = np.einsum("nij,nj->ni", m[:, :2, :], np.stack([x, y, np.ones_like(x)], 1))
sec = time.perf_counter() - t0
print(json.dumps({"pred_if": pred.tolist(), "seconds": round(sec, 2),
                  "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
'''

ELASTIX_SCRIPT = r'''
import json, resource, sys, time
from pathlib import Path
import numpy as np, itk
w = Path(sys.argv[1])
he, mv = np.load(w / "he_nuc.npy"), np.load(w / "if_nuc.npy")
meta = json.loads((w / "meta.json").read_text())
lm = np.load(w / "landmarks_he.npy")
t0 = time.perf_counter()
def shrink(a, f):
    h, w_ = (a.shape[0] // f) * f, (a.shape[1] // f) * f
    return a[:h, :w_].reshape(h // f, f, w_ // f, f).mean(axis=(1, 3)).astype(np.float32)
f = 1
while max(he.shape) / f > 512:
    f *= 2
fi = max(1, int(round(f * meta["mpp_he"] / meta["mpp_if"])))
fixed = itk.image_from_array(shrink(he, f))
moving = itk.image_from_array(shrink(mv, fi))
fixed.SetSpacing((float(f), float(f))); fixed.SetOrigin(((f - 1) / 2.0, (f - 1) / 2.0))
moving.SetSpacing((float(fi), float(fi))); moving.SetOrigin(((fi - 1) / 2.0, (fi - 1) / 2.0))
po = itk.ParameterObject.New()
po.AddParameterMap(po.GetDefaultParameterMap("affine"))
po.AddParameterMap(po.GetDefaultParameterMap("bspline"))
_, tp = itk.elastix_registration_method(fixed, moving, parameter_object=po, log_to_console=False)
field = itk.array_from_image(itk.transformix_deformation_field(moving, tp))  # (h, w, 2) x/y, physical
gx = np.clip(((lm[:, 0] - (f - 1) / 2.0) / f), 0, field.shape[1] - 1)
gy = np.clip(((lm[:, 1] - (f - 1) / 2.0) / f), 0, field.shape[0] - 1)
x0, y0 = np.minimum(gx.astype(int), field.shape[1] - 2), np.minimum(gy.astype(int), field.shape[0] - 2)
fx, fy = gx - x0, gy - y0
def samp(k):
    g = field[..., k]
    return (g[y0, x0] * (1 - fx) * (1 - fy) + g[y0, x0 + 1] * fx * (1 - fy)
            + g[y0 + 1, x0] * (1 - fx) * fy + g[y0 + 1, x0 + 1] * fx * fy)
pred = np.stack([lm[:, 0] + samp(0), lm[:, 1] + samp(1)], 1)
sec = time.perf_counter() - t0
print(json.dumps({"pred_if": pred.tolist(), "seconds": round(sec, 2),
                  "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
'''


NEGATIVE_CONTROLS = [
    {"kind": "unrelated", "name": "unrelated-1536-seeds-7-8", "width": 1536, "height": 1536, "seeds": (7, 8),
     "seed": 7, "rotation": 30.0, "mirror": False, "warp_um": 3.0, "if_overlap": 1.0},
    {"kind": "unrelated", "name": "unrelated-2967-seeds-9-10", "width": 2967, "height": 2220, "seeds": (9, 10),
     "seed": 9, "rotation": 17.0, "mirror": False, "warp_um": 3.0, "if_overlap": 1.0},
]


def negative_control(spec: dict) -> dict:
    """Register an unrelated pair: the status must not be ``ok``."""
    res = run_child([sys.executable, __file__, "--child", json.dumps(spec)], timeout=1800)
    if "error" in res:
        return {"pair": spec["name"], **res}
    return {"pair": spec["name"], "status": res["status"], "reason": res["reason"], "seconds": res["seconds"],
            "never_ok": res["status"] != "ok"}


# ----------------------------------------------------------------------------------------------- main


def pixels(spec: dict) -> int:
    w, h = he_size(spec)
    return int(w) * int(h)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print the JSON result (it always is)")
    ap.add_argument("--small", action="store_true", help="quick: small pairs only")
    ap.add_argument("--no-references", action="store_true", help="skip palom and itk-elastix")
    ap.add_argument("--only", default="", help="comma-separated pair names")
    ap.add_argument("--references-only", action="store_true", help="run only palom and elastix")
    ap.add_argument("--merge-references", default="", help="take palom/elastix rows from this JSON file")
    ap.add_argument("--from-results", default="", help="take our rows (and controls) from this JSON file")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child_ours(json.loads(a.child))))
        return 0
    specs = [s for s in pair_specs(a.small) if not a.only or s["name"] in a.only.split(",")]
    per_pair: list[dict] = []
    refs: dict[str, list[dict]] = {"palom": [], "elastix": []}
    earlier = json.loads(Path(a.from_results).read_text()) if a.from_results else None
    for spec in specs:
        row = {"pair": spec["name"], "kind": spec["kind"], "pixels": pixels(spec)}
        if earlier is not None:
            row = next((dict(r) for r in earlier["per_pair"] if r["pair"] == spec["name"]), row)
            row.pop("palom", None), row.pop("elastix", None)
        elif not a.references_only:
            log(f"pair {spec['name']}: ours")
            row.update(evaluate_ours(spec))
            log(f"  ours: {json.dumps({k: v for k, v in row.items() if k != 'reason'})}")
        per_pair.append(row)
    merged = json.loads(Path(a.merge_references).read_text()) if a.merge_references else None
    for spec, row in zip(specs, per_pair):  # references last: they need their own venvs ready
        if a.no_references or max(he_size(spec)) > REF_MAX_SIDE:
            continue
        for method in ("palom", "elastix"):
            if merged is not None:
                ref = next((r.get(method) for r in merged["per_pair"] if r["pair"] == spec["name"]), None)
                ref = ref or {"error": "not in the merged reference run"}
            else:
                log(f"pair {spec['name']}: {method}")
                ref = evaluate_reference(method, spec)
                log(f"  {method}: {json.dumps(ref)[:300]}")
            row[method] = ref
            refs[method].append({"pair": spec["name"], "pixels": row["pixels"], **ref})
    out: dict = {"host_note": "2 shared CPU cores; other engineers' jobs ran concurrently", **summarise(per_pair)}
    if a.no_references:
        out["palom"] = out["elastix"] = {"error": "skipped (--no-references)"}
    else:
        out["palom"], out["elastix"] = summarise(refs["palom"]), summarise(refs["elastix"])
    out["per_pair"] = per_pair
    if merged is not None:
        out["references_note"] = f"palom/elastix rows from a concurrent run ({a.merge_references})"
    if earlier is not None:
        out["negative_controls"] = earlier.get("negative_controls", [])
    elif not a.only and not a.references_only:
        out["negative_controls"] = [negative_control(s) for s in NEGATIVE_CONTROLS[: 1 if a.small else 2]]
        log(f"negative controls: {json.dumps(out['negative_controls'])}")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
