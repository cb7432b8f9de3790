"""Tile-serving benchmark: Laypath's ASGI tile server over HTTP vs OpenSlide's deep-zoom loop in-process.

Reference (timed in the same run, same slides): what OpenSlide's own deep-zoom example server does per
request, ``DeepZoomGenerator(tile_size=254, overlap=1).get_tile`` + Pillow JPEG quality 75, one thread.

Ours: ``annotation.imaging.tileserver`` under ``uvicorn --workers 2`` on loopback, driven by ``wrk``
(another process) with a fixed list of tile URLs. "Uncached" runs use a server whose tile cache is
disabled, so every request is read/rendered; "cached" runs hit the in-process tile cache.

Slides (cached under var/bench/): a synthetic H&E + IF pair from ``mlbackend.engine.synthetic`` (IF
and overlay figures), and large H&E slides (default 40,000 px square, 2x and 4x pyramid steps) written
with the generator's SVS writer from a bank of the pair's real synthetic H&E tiles (rendering 1.6
gigapixels of synthetic tissue takes over an hour on this machine; JPEG decode cost depends on tile
content, not on where a tile sits, so a bank of tissue tiles gives the per-tile work of tissue areas).

    python benchmarks/tiles.py --json [--small]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "var" / "bench"
TISSUE_MAX_MEAN = 220
SECRET_ENV, ROOT_ENV, CACHE_ENV = "LAYPATH_BENCH_SECRET", "LAYPATH_BENCH_ROOT", "LAYPATH_BENCH_CACHE_BYTES"
CHUNKS_ENV = "LAYPATH_BENCH_CHUNKS"  # the servers' shared composited-chunk store: fresh (empty) for each run

WRK_SCRIPT = r"""
local paths = {}
local idx = 0
local nthreads = 0
function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  idx = (tid or 0) * math.floor(#paths / 2)
end
function request()
  idx = idx + 1
  return wrk.format("GET", paths[(idx % #paths) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "non2xx": %d, "errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def log(msg: str) -> None:
    print(f"[tiles-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def bench_app():  # noqa: ANN201 - uvicorn factory
    """uvicorn factory: the tile app configured from environment variables set by this script."""
    from annotation.imaging.tileserver import TileServerConfig, make_tile_app

    cache_bytes = int(os.environ.get(CACHE_ENV, str(256 << 20)))
    return make_tile_app(
        TileServerConfig(
            secret=os.environ[SECRET_ENV],
            slide_root=os.environ[ROOT_ENV],
            memory_cache_bytes=cache_bytes,
            shared_chunk_dir=os.environ.get(CHUNKS_ENV) or None,
        )
    )


# -- slides ---------------------------------------------------------------------------------------------


def ensure_pair(size: int) -> Path:
    """A synthetic H&E + IF pair (he.svs, if.ome.tif, transform.json) of ``size`` px, generated once."""
    out = BENCH / f"pair_{size}"
    if (out / "transform.json").exists() and (out / "if.ome.tif").exists():
        return out
    from mlbackend.engine.synthetic.pair import write_pair

    log(f"generating synthetic pair {size} px (takes about a minute per 16 Mpx)")
    write_pair(out, size, size, 1)
    return out


def ensure_big_he(size: int, step: int, bank_src: Path) -> Path:
    """A size x size H&E SVS with ``step``x pyramid steps, tiles drawn from the pair's synthetic H&E."""
    path = BENCH / f"he_{size}_{step}x.svs"
    if path.exists():
        return path
    from annotation.imaging.readers import open_slide
    from mlbackend.engine.synthetic.tiff_io import write_he_svs

    with open_slide(bank_src) as reader:
        w, h = reader.info.level_dimensions[0]
        tiles = [reader.read_region(0, x, y, 256, 256) for y in range(0, h - 255, 256) for x in range(0, w - 255, 256)]
    bank = [t for t in tiles if t.mean() < TISSUE_MAX_MEAN] or tiles  # tissue, not glass: the costly case

    def render(x0: int, y0: int, tw: int, th: int, d: float) -> np.ndarray:
        key = (x0 // int(256 * d)) * 7919 + (y0 // int(256 * d)) * 104729 + int(d) * 31
        return bank[key % len(bank)][:th, :tw]

    log(f"writing {path.name} ({len(bank)} bank tiles)")
    tmp = path.with_suffix(".tmp")
    write_he_svs(tmp, render, size, size, 0.25, 40.0, tile=256, step=step, quality=88)
    tmp.rename(path)
    return path


# -- reference ------------------------------------------------------------------------------------------


def reference_rate(path: Path, level_from_top: int, seconds: float, seed: int = 0) -> dict:
    """OpenSlide's deep-zoom loop in this process, one thread: random tiles of one level."""
    import openslide
    from openslide.deepzoom import DeepZoomGenerator

    slide = openslide.OpenSlide(str(path))
    dz = DeepZoomGenerator(slide, tile_size=254, overlap=1, limit_bounds=False)
    level = dz.level_count - 1 - level_from_top
    cols, rows = dz.level_tiles[level]
    rng = random.Random(seed)
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        tile = dz.get_tile(level, (rng.randrange(cols), rng.randrange(rows)))
        buf = io.BytesIO()
        tile.save(buf, "jpeg", quality=75)
        times.append(time.perf_counter() - t0)
    slide.close()
    arr = np.asarray(times)
    return {"tiles_per_s": float(len(arr) / arr.sum()), "p50_ms": float(np.median(arr) * 1e3), "n": len(arr)}


def render_cpu_ms(pair: Path, n: int = 60) -> dict:
    """CPU ms per uncached overlay / fluorescence tile in this process (load-independent-ish figure).

    ``*_random``: random tiles with no composited-chunk cache (the worst case); ``*_viewport_*``: viewer
    order (5 x 4 viewports) with a fresh cache (cold: first pass) and again (warm).
    """
    from annotation.imaging.chunkstore import RenderedChunkCache
    from annotation.imaging.deepzoom import geometry_for
    from annotation.imaging.overlay import render_overlay_tile
    from annotation.imaging.readers import open_slide
    from annotation.imaging.tiles import render_tile
    from annotation.imaging.transform import SlideTransform

    transform = SlideTransform.from_dict(json.loads((pair / "transform.json").read_text()))
    out = {}
    with open_slide(pair / "he.svs") as he, open_slide(pair / "if.ome.tif") as iff:
        he_geometry, if_geometry = geometry_for(he.info), geometry_for(iff.info)
        chunks, level = RenderedChunkCache(96 << 20), he_geometry.max_level
        order = [tuple(map(int, u.rsplit("/", 1)[1].split(".")[0].split("_"))) for u in viewport_paths("t", he_geometry, 200, 5)]
        for label in ("cold", "warm"):  # viewer order, composited-chunk cache as the server has it
            t0 = time.process_time()
            for c, r in order:
                render_overlay_tile(he_geometry, iff, transform, level, c, r, chunks=chunks, source="bench")
            out[f"overlay_cpu_ms_per_tile_viewport_{label}"] = round((time.process_time() - t0) / len(order) * 1e3, 2)
        rng = random.Random(9)
        for name, geometry, fn in (
            ("overlay", he_geometry, lambda lv, c, r: render_overlay_tile(he_geometry, iff, transform, lv, c, r)),
            ("fluorescence", if_geometry, lambda lv, c, r: render_tile(iff, if_geometry, lv, c, r)),
        ):
            level = geometry.max_level
            cols, rows = geometry.tile_counts(level)
            t0 = time.process_time()
            for _ in range(n):
                fn(level, rng.randrange(cols), rng.randrange(rows))
            out[f"{name}_cpu_ms_per_tile_random"] = round((time.process_time() - t0) / n * 1e3, 2)
    return out


# -- server + wrk ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn running the tile app in a subprocess."""

    def __init__(self, cache_bytes: int, workers: int) -> None:
        self.port = free_port()
        env = {**os.environ, SECRET_ENV: "bench-secret", ROOT_ENV: str(BENCH), CACHE_ENV: str(cache_bytes)}
        cmd = [
            sys.executable, "-m", "uvicorn", "benchmarks.tiles:bench_app", "--factory", "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
        ]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1)
            except urllib.error.HTTPError:
                return  # 404 from the tile app: it is up
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("uvicorn did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)

    def cpu_seconds(self) -> float:
        """user + system CPU of the server's processes (uvicorn supervisor and workers) so far."""
        return sum(_proc_cpu(pid) for pid in _process_tree(self.proc.pid))


def _process_tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return out


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run_wrk(port: int, paths: list[str], seconds: float, connections: int, threads: int = 1) -> dict:
    """Drive ``paths`` (cycled) with wrk; returns requests/s, p50/p95 latency and error counts."""
    with tempfile.TemporaryDirectory() as tmp:
        script, urls = Path(tmp) / "s.lua", Path(tmp) / "urls.txt"
        script.write_text(WRK_SCRIPT)
        urls.write_text("\n".join(paths) + "\n")
        cmd = [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
            "-s", str(script), f"http://127.0.0.1:{port}", "--", str(urls),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    stats = json.loads(out.strip().splitlines()[-1])
    duration = stats["duration_us"] / 1e6
    return {
        "tiles_per_s": stats["requests"] / duration,
        "p50_ms": stats["p50_us"] / 1e3,
        "p95_ms": stats["p95_us"] / 1e3,
        "requests": stats["requests"],
        "non2xx": stats["non2xx"],
        "errors": stats["errors"],
    }


def tile_paths(token: str, geometry, level_from_top: int, n: int, seed: int, fmt: str = "jpeg") -> list[str]:
    """Random tile URLs of one DZI level (in the order a cold random-access client asks)."""
    level = geometry.max_level - level_from_top
    cols, rows = geometry.tile_counts(level)
    rng = random.Random(seed)
    return [f"/tiles/{token}/slide_files/{level}/{rng.randrange(cols)}_{rng.randrange(rows)}.{fmt}" for _ in range(n)]


def viewport_paths(token: str, geometry, n: int, seed: int, fmt: str = "jpeg") -> list[str]:
    """Top-level tile URLs in viewer order: random 5 x 4 viewports, each requested tile by tile."""
    level = geometry.max_level
    cols, rows = geometry.tile_counts(level)
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        c0, r0 = rng.randrange(max(1, cols - 5)), rng.randrange(max(1, rows - 4))
        out += [f"/tiles/{token}/slide_files/{level}/{c}_{r}.{fmt}" for r in range(r0, r0 + 4) for c in range(c0, c0 + 5)]
    return out


def tokens_and_geometry(pair: Path, big2: Path | None, big4: Path | None) -> dict:
    from annotation.imaging.deepzoom import geometry_for
    from annotation.imaging.readers import open_slide
    from annotation.imaging.sniff import fast_checksum
    from annotation.imaging.tokens import TileSpec, sign_tile_token

    def rel(p: Path) -> str:
        return str(p.relative_to(BENCH))

    def one(kind: str, p: Path) -> tuple[str, object]:
        with open_slide(p) as reader:
            geometry = geometry_for(reader.info)
        return sign_tile_token(TileSpec(kind, (rel(p),), (fast_checksum(p),)), "bench-secret", 7200), geometry

    transform = pair / "transform.json"
    version = "sha256:" + __import__("hashlib").sha256(transform.read_bytes()).hexdigest()
    he, iff = pair / "he.svs", pair / "if.ome.tif"
    overlay = TileSpec(
        "overlay", (rel(he), rel(iff)), (fast_checksum(he), fast_checksum(iff)), rel(transform), version
    )
    out = {"big2": one("brightfield", big2), "big4": one("brightfield", big4)} if big2 and big4 else {}
    return {
        **out,
        "fluo": one("fluorescence", iff),
        "pair_he": one("brightfield", he),
        "overlay": sign_tile_token(overlay, "bench-secret", 7200),
    }


def median_run(runs: list[dict]) -> dict:
    """The repetition with the median rate (lower middle for an even count; its latencies too), plus all rates."""
    ordered = sorted(runs, key=lambda r: r["tiles_per_s"])
    return {**ordered[(len(ordered) - 1) // 2], "all_tiles_per_s": [round(r["tiles_per_s"], 1) for r in runs]}


def measure(
    t: dict, big2: Path | None, big4: Path | None, seconds: float, repeats: int, workers: int, connections: int
) -> dict:
    """Reference loops and HTTP runs, interleaved ``repeats`` times so load drift hits all alike.

    Without ``big2``/``big4`` (``--only overlay``) only the fluorescence and overlay runs are made.
    """
    full = big2 is not None and big4 is not None
    chunks = tempfile.mkdtemp(prefix="laypath-bench-chunks-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    os.environ[CHUNKS_ENV] = chunks
    uncached = Server(cache_bytes=0, workers=workers)
    cached = Server(cache_bytes=512 << 20, workers=workers) if full else None
    try:
        fluo_token, fluo_geometry = t["fluo"]
        _, he_geometry = t["pair_he"]
        plans = {
            "fluorescence": (uncached, tile_paths(fluo_token, fluo_geometry, 0, 4000, 4), connections),
            "overlay": (uncached, viewport_paths(t["overlay"], he_geometry, 4000, 5), 4),
            "overlay_random": (uncached, tile_paths(t["overlay"], he_geometry, 0, 4000, 6), 4),
        }
        references: dict[str, tuple[Path, int]] = {}
        if full:
            token2, geometry2 = t["big2"]
            token4, geometry4 = t["big4"]
            hot = tile_paths(token2, geometry2, 0, 300, 7)
            run_wrk(cached.port, hot, 2, connections)  # fill both workers' tile caches
            plans = {
                "uncached": (uncached, tile_paths(token2, geometry2, 0, 20000, 1), connections),
                "uncached_4x_top": (uncached, tile_paths(token4, geometry4, 0, 20000, 2), connections),
                "uncached_4x_l1": (uncached, tile_paths(token4, geometry4, 1, 20000, 3), connections),
                **plans,
                "cached": (cached, hot, connections),
            }
            references = {"2x_top": (big2, 0), "4x_top": (big4, 0), "4x_l1": (big4, 1)}
        log("warm-up: open readers in every worker, page-cache the files")
        for server, paths, conns in plans.values():
            run_wrk(server.port, paths[-500:], 1, conns)
        for path, level in references.values():
            reference_rate(path, level, 1.0, seed=99)
        runs: dict[str, list[dict]] = {name: [] for name in [*plans, *(f"reference_{r}" for r in references)]}
        for rep in range(repeats):
            log(f"repetition {rep + 1}/{repeats}")
            for name, (path, level) in references.items():
                runs[f"reference_{name}"].append(reference_rate(path, level, seconds, seed=rep))
            for name, (server, paths, conns) in plans.items():
                cpu0 = server.cpu_seconds()
                run = run_wrk(server.port, paths[rep * 97 :] + paths[: rep * 97], seconds, conns)
                # server CPU per request: the per-tile cost over HTTP, much less sensitive to machine load
                run["server_cpu_ms_per_tile"] = round((server.cpu_seconds() - cpu0) * 1e3 / max(1, run["requests"]), 2)
                runs[name].append(run)
    finally:
        uncached.stop()
        if cached is not None:
            cached.stop()
        shutil.rmtree(chunks, ignore_errors=True)
    return {name: median_run(r) for name, r in runs.items()}


def overlay_only_result(m: dict, cpu: dict, args, pair_size: int, seconds: float, load_before) -> dict:
    """The overlay/fluorescence keys of the full result (``--only overlay``)."""
    return {
        "fluorescence_tiles_per_s": round(m["fluorescence"]["tiles_per_s"], 1),
        "overlay_p50_ms": round(m["overlay"]["p50_ms"], 2),
        "overlay_p95_ms": round(m["overlay"]["p95_ms"], 2),
        "details": {
            "only": "overlay",
            "pair_px": pair_size,
            "seconds_per_run": seconds,
            "repeats": args.repeats,
            "workers": args.workers,
            "in_process_cpu": cpu,
            "runs": m,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "cpus": os.cpu_count(),
        },
    }


# -- main -----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--small", action="store_true", help="quick run: 8,192 px slides, short runs")
    parser.add_argument("--size", type=int, default=None, help="big H&E side in px (default 40000)")
    parser.add_argument("--seconds", type=float, default=None, help="duration of each timed run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repetitions (median reported)")
    parser.add_argument(
        "--only", choices=("overlay",), default=None, help="overlay: only the pair (fluorescence + overlay runs)"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        log("wrk not found (apt-get install -y wrk)")
        return 2
    size = args.size or (8192 if args.small else 40000)
    seconds = args.seconds or (2.0 if args.small else 4.0)
    args.repeats = args.repeats or (2 if args.small else 3)
    pair_size = 2048 if args.small else 4096
    BENCH.mkdir(parents=True, exist_ok=True)
    pair = ensure_pair(pair_size)
    big2 = big4 = None
    if args.only is None:
        big2 = ensure_big_he(size, 2, pair / "he.svs")
        big4 = ensure_big_he(size, 4, pair / "he.svs")
    load_before = os.getloadavg()

    cpu = render_cpu_ms(pair)
    log(f"in-process CPU per tile: {cpu}")
    t = tokens_and_geometry(pair, big2, big4)
    m = measure(t, big2, big4, seconds, args.repeats, args.workers, args.connections)
    for name, r in m.items():
        log(f"{name}: {r['tiles_per_s']:.0f}/s (reps {r['all_tiles_per_s']}) p50 {r.get('p50_ms', 0):.1f} ms "
            f"p95 {r.get('p95_ms', 0):.1f} ms")
        if r.get("non2xx") or r.get("errors"):
            log(f"  {name}: non-2xx {r['non2xx']}, errors {r['errors']}")
    if args.only == "overlay":
        out = overlay_only_result(m, cpu, args, pair_size, seconds, load_before)
        print(json.dumps(out, indent=None if args.json else 2))
        return 0
    ref, ref4_top, ref4_l1 = m["reference_2x_top"], m["reference_4x_top"], m["reference_4x_l1"]
    out = {
        "reference_tiles_per_s": round(ref["tiles_per_s"], 1),
        "uncached_tiles_per_s": round(m["uncached"]["tiles_per_s"], 1),
        "cached_tiles_per_s": round(m["cached"]["tiles_per_s"], 1),
        "fluorescence_tiles_per_s": round(m["fluorescence"]["tiles_per_s"], 1),
        "overlay_p50_ms": round(m["overlay"]["p50_ms"], 2),
        "overlay_p95_ms": round(m["overlay"]["p95_ms"], 2),
        "uncached_ratio": round(m["uncached"]["tiles_per_s"] / ref["tiles_per_s"], 2),
        "cached_ratio": round(m["cached"]["tiles_per_s"] / ref["tiles_per_s"], 2),
        "uncached_ratio_4x_pyramid": round(m["uncached_4x_l1"]["tiles_per_s"] / ref4_l1["tiles_per_s"], 2),
        "details": {
            "slide_px": size,
            "pair_px": pair_size,
            "seconds_per_run": seconds,
            "repeats": args.repeats,
            "workers": args.workers,
            "connections": args.connections,
            "in_process_cpu": cpu,
            "uncached_ratio_4x_top_level": round(m["uncached_4x_top"]["tiles_per_s"] / ref4_top["tiles_per_s"], 2),
            "runs": m,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "cpus": os.cpu_count(),
        },
    }
    print(json.dumps(out, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
