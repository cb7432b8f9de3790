"""Benchmark: time and peak memory of writing one synthetic pair (``--json`` prints one JSON object).

Usage: ``python -m mlbackend.engine.synthetic.bench --width 20000 --height 20000 --json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mlbackend.engine.synthetic.pair import write_pair


def _rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(width: int, height: int, seed: int, out: Path, if_compression: str, if_dtype: str) -> dict:
    """Write one pair and return sizes, per-stage seconds and peak RSS."""
    stages: dict[str, dict[str, float]] = {}
    baseline = _rss_peak_mb()

    def on_stage(name: str, seconds: float) -> None:
        stages[name] = {"seconds": round(seconds, 2), "rss_peak_mb": round(_rss_peak_mb(), 1)}
        print(f"{name}: {seconds:.1f} s, peak RSS {_rss_peak_mb():.0f} MB", file=sys.stderr)

    t0 = time.perf_counter()
    paths = write_pair(
        out, width, height, seed, if_compression=if_compression, if_dtype=np.dtype(if_dtype), on_stage=on_stage
    )
    total = time.perf_counter() - t0
    he_px = width * height
    if_px = paths.if_size[0] * paths.if_size[1]
    return {
        "width": width, "height": height, "seed": seed, "if_size": list(paths.if_size), "n_cells": paths.n_cells,
        "if_compression": if_compression, "if_dtype": if_dtype,
        "stages": stages, "seconds_total": round(total, 2),
        "he_mpx_per_s": round(he_px / 1e6 / stages["he"]["seconds"], 2),
        "if_channel_mpx_per_s": round(5 * if_px / 1e6 / stages["if"]["seconds"], 2),
        "rss_baseline_mb": round(baseline, 1), "rss_peak_mb": round(_rss_peak_mb(), 1),
        "he_bytes": paths.he_path.stat().st_size, "if_bytes": paths.if_path.stat().st_size,
        "truth_bytes": paths.truth_path.stat().st_size, "cpu_count": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark, print the result."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--width", type=int, default=20000)
    p.add_argument("--height", type=int, default=20000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=None, help="folder (default: a temporary one, deleted after)")
    p.add_argument("--if-compression", default="zlib", choices=("zlib", "zstd"))
    p.add_argument("--if-dtype", default="uint16", choices=("uint16", "uint8"))
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.out:
        result = run(a.width, a.height, a.seed, Path(a.out), a.if_compression, a.if_dtype)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(a.width, a.height, a.seed, Path(tmp), a.if_compression, a.if_dtype)
    print(json.dumps(result) if a.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
