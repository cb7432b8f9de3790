"""Reference methods for the registration benchmark, each in its own virtualenv called as a subprocess.

palom 2026.4.1 pins numpy 1.x and scikit-image < 0.20 (no wheel for Python 3.11: building it from source
took ~90 min on this host), so it runs in ``var/bench/palom-venv`` (its own pins) if that exists, else in
``var/bench/palom-venv-b``, made at install time from PyPI by ``setup_palom_fallback()`` (``--setup-palom``
on the benchmark): palom ``--no-deps`` plus numpy 1.26.4, scikit-image 0.22.0 and its other dependencies
as wheels. itk-elastix runs in ``var/bench/elastix-venv`` (``pip install itk-elastix==0.25.4``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
from registration_data import BENCH, landmarks, readers, run_child, score

PALOM_PY = BENCH / "palom-venv" / "bin" / "python"
PALOM_FALLBACK_PY = BENCH / "palom-venv-b" / "bin" / "python"
ELASTIX_PY = BENCH / "elastix-venv" / "bin" / "python"
REF_MAX_SIDE = 4200  # the references read whole level-0 images; they run on pairs up to this size
PALOM_FALLBACK_PINS = (
    "numpy==1.26.4", "scikit-image==0.22.0", "numcodecs==0.13.1", "zarr==2.18.3", "tifffile==2024.7.2",
    "dask[array]", "fire", "imagecodecs", "loguru", "matplotlib", "ome-types", "opencv-python-headless",
    "openslide-python", "pint", "scikit-learn", "tqdm", "yamale<5",
)


def setup_palom_fallback(python: str = "python3.11") -> None:
    """Create the fallback palom venv from PyPI (palom 2026.4.1 without its scikit-image pin)."""
    venv = PALOM_FALLBACK_PY.parent.parent
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(PALOM_FALLBACK_PY), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--no-deps", "palom==2026.4.1"], check=True)
    subprocess.run([*pip, *PALOM_FALLBACK_PINS], check=True)


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
    row.update(seconds=res["seconds"], cpu_seconds=res.get("cpu_seconds"), load_avg=res.get("load_avg"),
               peak_mb=res["peak_mb"], venv=py.parent.parent.name)
    return row


# Both reference scripts run in their own venvs; they share this prelude as text.
SCRIPT_PRELUDE = r'''
import json, os, resource, sys, time
def peak_mb():  # VmHWM: this address space only (ru_maxrss would include the parent's peak)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
'''

PALOM_SCRIPT = SCRIPT_PRELUDE + r'''
from pathlib import Path
import numpy as np, dask.array as da, cv2
import palom
w = Path(sys.argv[1])
he, mv = np.load(w / "he_nuc.npy"), np.load(w / "if_nuc.npy")
lm = np.load(w / "landmarks_he.npy")
t0, c0 = time.perf_counter(), time.process_time()
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
                  "cpu_seconds": round(time.process_time() - c0, 2), "load_avg": round(os.getloadavg()[0], 1),
                  "peak_mb": round(peak_mb(), 1)}))
'''

ELASTIX_SCRIPT = SCRIPT_PRELUDE + r'''
from pathlib import Path
import numpy as np, itk
w = Path(sys.argv[1])
he, mv = np.load(w / "he_nuc.npy"), np.load(w / "if_nuc.npy")
meta = json.loads((w / "meta.json").read_text())
lm = np.load(w / "landmarks_he.npy")
t0, c0 = time.perf_counter(), time.process_time()
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
                  "cpu_seconds": round(time.process_time() - c0, 2), "load_avg": round(os.getloadavg()[0], 1),
                  "peak_mb": round(peak_mb(), 1)}))
'''
