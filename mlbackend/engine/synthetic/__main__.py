"""CLI: ``python -m mlbackend.engine.synthetic --out DIR --width W --height H --seed S``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import numpy as np

from mlbackend.engine.synthetic.pair import write_pair


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, write one synthetic pair, print its paths as JSON."""
    p = argparse.ArgumentParser(prog="python -m mlbackend.engine.synthetic", description=__doc__)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--width", type=int, default=8192)
    p.add_argument("--height", type=int, default=6144)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mpp-he", type=float, default=0.25)
    p.add_argument("--mpp-if", type=float, default=0.325)
    p.add_argument("--rotation", type=float, default=17.0, help="degrees")
    p.add_argument("--mirror", action="store_true")
    p.add_argument("--extra-scale", type=float, default=1.02)
    p.add_argument("--warp-um", type=float, default=3.0)
    p.add_argument("--if-overlap", type=float, default=1.0, help="fraction of the IF canvas width kept")
    p.add_argument("--pyramid-step", type=int, default=2, choices=(2, 4))
    p.add_argument("--he-tile", type=int, default=256, choices=(256, 512))
    p.add_argument("--if-dtype", default="uint16", choices=("uint16", "uint8"))
    p.add_argument("--if-compression", default="zlib", choices=("zlib", "zstd"))
    p.add_argument("--if-noise-sd", type=float, default=0.008, help="IF camera noise (smaller files when lower)")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if a.verbose else logging.WARNING, stream=sys.stderr)
    t0 = time.perf_counter()
    paths = write_pair(
        a.out, a.width, a.height, a.seed, he_tile=a.he_tile, pyramid_step=a.pyramid_step,
        if_dtype=np.dtype(a.if_dtype), if_compression=a.if_compression, mpp_he=a.mpp_he, mpp_if=a.mpp_if, rotation_deg=a.rotation,
        mirror=a.mirror, extra_scale=a.extra_scale, warp_um=a.warp_um, if_overlap=a.if_overlap, if_noise_sd=a.if_noise_sd,
    )
    out = {k: str(v) if hasattr(v, "parts") else v for k, v in paths.__dict__.items()}
    out["seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
