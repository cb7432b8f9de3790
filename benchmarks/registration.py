"""Benchmark: IF -> H&E registration on pairs with a known transform, against palom and itk-elastix.

    .venv/bin/python benchmarks/registration.py --json [--small] [--no-references] [--only a,b]

Pairs, readers, landmarks and scoring live in ``registration_data.py``; palom and itk-elastix (each in its
own venv, ``--setup-palom`` makes palom's from PyPI) in ``registration_refs.py``.

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
import os
import sys
import time
from pathlib import Path

import numpy as np
from registration_data import (  # (first: it puts the repo root on sys.path)
    NEGATIVE_CONTROLS,
    he_size,
    landmarks,
    log,
    pair_specs,
    peak_mb,
    pixels,
    readers,
    run_child,
    score,
)
from registration_refs import REF_MAX_SIDE, evaluate_reference, setup_palom_fallback

from annotation.imaging.transform import SlideTransform


def child_ours(spec: dict) -> dict:
    """Run the engine on one pair (in this process) and report transform, status, time and memory."""
    from mlbackend.engine.registration import register_pair

    he, ifs = readers(spec, cached=True)
    t0, c0 = time.perf_counter(), time.process_time()
    res = register_pair(he, ifs)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    misses = sum(getattr(r, "misses", 0) for r in (he, ifs))
    return {"transform": res.transform.to_dict(), "status": res.status, "reason": res.reason,
            "metrics": res.metrics, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "load_avg": round(os.getloadavg()[0], 1), "peak_mb": round(peak_mb(), 1),
            "uncached_reads": misses}


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
    row.update(status=res["status"], reason=res["reason"], seconds=res["seconds"], cpu_seconds=res["cpu_seconds"],
               load_avg=res["load_avg"], peak_mb=res["peak_mb"],
               residual_um_estimate=m.get("residual_um"), coarse_method=m.get("coarse_method"),
               uncached_reads=res.get("uncached_reads", 0))
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
        "cpu_seconds_largest_pair": largest.get("cpu_seconds"),
        "largest_pair": largest["pair"],
        "peak_mb": round(float(max(r["peak_mb"] for r in done)), 1),
        "failed_pairs": [r["pair"] for r in rows if "median_error_um" not in r],
    }


def negative_control(spec: dict) -> dict:
    """Register an unrelated pair: the status must not be ``ok``."""
    res = run_child([sys.executable, __file__, "--child", json.dumps(spec)], timeout=1800)
    if "error" in res:
        return {"pair": spec["name"], **res}
    return {"pair": spec["name"], "status": res["status"], "reason": res["reason"], "seconds": res["seconds"],
            "never_ok": res["status"] != "ok"}


# ----------------------------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print the JSON result (it always is)")
    ap.add_argument("--small", action="store_true", help="quick: small pairs only")
    ap.add_argument("--no-references", action="store_true", help="skip palom and itk-elastix")
    ap.add_argument("--only", default="", help="comma-separated pair names")
    ap.add_argument("--references-only", action="store_true", help="run only palom and elastix")
    ap.add_argument("--methods", default="palom,elastix", help="which references to run")
    ap.add_argument("--merge-references", default="", help="take palom/elastix rows from this JSON file")
    ap.add_argument("--from-results", default="", help="take our rows (and controls) from this JSON file")
    ap.add_argument("--setup-palom", action="store_true", help="create palom's fallback venv from PyPI, then exit")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.setup_palom:
        setup_palom_fallback()
        return 0
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
            if method not in a.methods.split(","):
                continue
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
