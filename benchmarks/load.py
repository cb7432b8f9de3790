"""Load harness: N simulated annotators against the real ASGI server (uvicorn) with PostgreSQL and Redis.

Each annotator works like a person: a pan/zoom every 5 s fetching ~20 tiles (mostly cached, some new),
a viewport annotation query on every pan, a saved batch of 1-5 annotations every 3 s, a task submit
every 2 minutes. Afterwards every acknowledged annotation is looked up in the database: `lost_writes`
counts acknowledged writes whose row or version is missing. Prints one JSON object.

    python benchmarks/load.py --json --annotators 100 --seconds 60

Needs DATABASE_URL (PostgreSQL) and REDIS_URL; creates its own database `laypath_bench_load` on that
server (kept between runs, so a re-run skips the set-up; `--fresh` recreates it). Only loopback traffic;
bounded in time and count. The clients are one asyncio process (``benchmarks/loadclient.py``, a small
keep-alive HTTP/1.1 client: httpx cost more CPU per request than the server; up to 6 connections
per annotator like a browser); errors are reported per route with their status or exception, and the
client's own CPU time and the load average are reported so a run on a busy machine can be judged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_NAME = "laypath_bench_load"
CONNECTIONS = 6  # per annotator, a browser's per-host limit
KEEP_ALIVE_S = 75  # server side, as docker/entrypoint.sh runs uvicorn


def _db_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _setup_env(args) -> dict:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": _db_url(base, DB_NAME), "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "REDIS_PREFIX": f"laypath-load-{uuid.uuid4().hex[:6]}", "DEBUG": "0", "SECURE_HTTPS": "0", "AXES_ENABLED": "0",
        "SECRET_KEY": "load-benchmark-secret-key-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SLIDE_ROOT": str(ROOT / "var" / "bench" / "load-slides"), "LAYPATH_VAR_DIR": str(ROOT / "var" / "bench" / "load-var"),
        "API_THROTTLE_USER": "100000/min", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    })
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        if args.fresh:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (DB_NAME,)).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {DB_NAME}")
    return env


SETUP_SCRIPT = r"""
import json, os, sys
import django
django.setup()
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
call_command("migrate", verbosity=0)
from annotation.models import Project, Membership, LabelClass, SlidePair, Task, Assignment, Slide
from annotation.services.slides import slide_create, slide_ingest
from mlbackend.engine.synthetic import write_pair
n, size = int(sys.argv[1]), int(sys.argv[2])
folder = settings.SLIDE_ROOT / "pair"
if not (folder / "transform.json").exists():
    write_pair(folder, size, size, 11)
User = get_user_model()
project, _ = Project.objects.get_or_create(name="load", defaults={"redundancy_k": 1, "blind_mode": True})
cls = [LabelClass.objects.get_or_create(project=project, name=c, defaults={"order": i})[0].id
       for i, c in enumerate(["podocyte", "endothelial", "mesangial"])]
pair = SlidePair.objects.filter(project=project).first()
if pair is None:
    he_name = next(p.name for p in folder.iterdir() if p.suffix == ".svs")
    slide, job = slide_create(project=project, file_path=f"pair/{he_name}", name="he")
    slide_ingest(job_id=str(job.id))
    pair = SlidePair.objects.create(project=project, name="pair", anatomical=Slide.objects.get(id=slide.id))
users = []
for i in range(n):
    u, created = User.objects.get_or_create(username=f"load{i}")
    if created:
        u.set_password("load-password-1"); u.save()
    Membership.objects.get_or_create(project=project, user=u, defaults={"role": "annotator"})
    users.append(u.username)
# plenty of tasks, each assigned to one annotator
step = 512
tasks_per_user = 6
have = Task.objects.filter(project=project).count()
grid = [(x, y) for y in range(0, size - step + 1, step) for x in range(0, size - step + 1, step)]
need = n * tasks_per_user
for k in range(have, need):
    x, y = grid[k % len(grid)]
    t = Task.objects.create(project=project, pair=pair, min_x=x, min_y=y, max_x=x + step, max_y=y + step,
        region={"type": "Polygon", "coordinates": [[[x, y], [x + step, y], [x + step, y + step], [x, y + step], [x, y]]]})
    t.classes.set(cls)
    Assignment.objects.create(task=t, annotator=User.objects.get(username=f"load{k % n}"))
print(json.dumps({"project": project.id, "pair": pair.id, "classes": cls, "users": users, "size": size}))
"""


class Recorder:
    def __init__(self) -> None:
        self.lat: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.reasons: dict[str, dict[str, int]] = {}  # route -> "HTTP 503" / exception name -> count
        self.samples: list[str] = []  # first few failing responses, for the log
        self.requests = 0
        self.server: dict[str, dict[str, list[float]]] = {}  # route -> Server-Timing part -> ms

    def add(self, route: str, seconds: float, ok: bool, reason: str = "", detail: str = "") -> None:
        self.requests += 1
        self.lat.setdefault(route, []).append(seconds * 1000)
        if not ok:
            self.errors[route] = self.errors.get(route, 0) + 1
            by = self.reasons.setdefault(route, {})
            by[reason or "unknown"] = by.get(reason or "unknown", 0) + 1
            if len(self.samples) < 20:
                self.samples.append(f"{route}: {reason} {detail[:200]}")

    def add_server_timing(self, route: str, header: str) -> None:
        """Keep the server's own split of a request (wait for a worker thread, app, db) per route."""
        for part in header.split(","):
            name, _, dur = part.strip().partition(";dur=")
            if dur:
                self.server.setdefault(route, {}).setdefault(name, []).append(float(dur))

    def server_summary(self) -> dict:
        return {route: {name: {"p50_ms": _q(sorted(v), 0.5), "p95_ms": _q(sorted(v), 0.95)} for name, v in parts.items()}
                for route, parts in sorted(self.server.items())}

    def summary(self) -> dict:
        out = {}
        for route, values in sorted(self.lat.items()):
            values = sorted(values)
            out[route] = {"n": len(values), "p50_ms": _q(values, 0.5), "p95_ms": _q(values, 0.95), "p99_ms": _q(values, 0.99),
                          "mean_ms": round(statistics.fmean(values), 2), "errors": self.errors.get(route, 0)}
        return out


def _q(values: list[float], p: float) -> float:
    return round(values[min(len(values) - 1, int(p * len(values)))], 2)


async def _timed(rec: Recorder, route: str, coro, ok_status=(200,)):
    t0 = time.perf_counter()
    try:
        response = await coro
    except Exception as exc:
        rec.add(route, time.perf_counter() - t0, False, type(exc).__name__, str(exc))
        return None
    ok = response.status_code in ok_status
    detail = "" if ok else response.text
    rec.add(route, time.perf_counter() - t0, ok, f"HTTP {response.status_code}", detail)
    rec.add_server_timing(route, response.headers.get("server-timing", ""))
    return response


async def annotator(base: str, username: str, info: dict, clock: dict, rec: Recorder, acked: dict, rng: random.Random,
                    tile_levels: dict) -> None:
    from benchmarks.loadclient import BrowserClient

    parts = urlsplit(base)
    async with BrowserClient(parts.hostname, parts.port, CONNECTIONS) as client:
        saved = info["sessions"].get(username)
        viewer = None
        if saved:  # a session from an earlier run (password hashing for 100 logins takes minutes here)
            client.cookies.update(saved)
            viewer = await client.get(f"/api/pairs/{info['pair']}/viewer/")
        if viewer is None or viewer.status_code != 200:
            client.cookies.clear()
            try:
                async with clock["logins"]:  # people do not all log in at the same second
                    await client.get("/accounts/login/")
                    csrf = client.cookies.get("csrftoken")
                    r = await client.post("/accounts/login/", data={"username": username, "password": "load-password-1",
                                                                    "csrfmiddlewaretoken": csrf},
                                          headers={"Referer": base + "/accounts/login/"})
            except (TimeoutError, OSError) as exc:
                rec.add("login", 0, False, type(exc).__name__)
                print(f"{username}: login failed ({type(exc).__name__})", file=sys.stderr)
                return
            if r.status_code not in (200, 302) or "sessionid" not in client.cookies:
                rec.add("login", 0, False, f"HTTP {r.status_code}")
                print(f"{username}: login failed ({r.status_code})", file=sys.stderr)
                return
            viewer = await _timed(rec, "viewer", client.get(f"/api/pairs/{info['pair']}/viewer/"))
            if viewer is None or viewer.status_code != 200:
                return
        info["sessions"][username] = {k: client.cookies.get(k) for k in ("sessionid", "csrftoken")}
        headers = {"X-CSRFToken": client.cookies.get("csrftoken"), "Referer": base + "/"}
        dzi = viewer.json()["anatomical"]["dzi_url"]
        tile_base = urlsplit(dzi).path.rsplit("/", 1)[0] + "/slide_files"
        task = await _next_task(client, info, headers, rec)
        clock["ready"] += 1
        await clock["go"].wait()  # logins (password hashing) are not part of the measured minute
        deadline = clock["deadline"]
        t_next_pan = t_next_save = time.monotonic() + rng.uniform(0, 3)
        t_next_submit = time.monotonic() + 120
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= t_next_pan:
                t_next_pan = now + 5
                await _pan(client, tile_base, tile_levels, info, rec, rng)
            if now >= t_next_save and task is not None:
                t_next_save = now + 3
                await _save(client, headers, info, task, rec, acked, rng)
            if now >= t_next_submit and task is not None:
                t_next_submit = now + 120
                await _timed(rec, "submit", client.post(f"/api/assignments/{task['assignment']}/submit/", headers=headers))
                task = await _next_task(client, info, headers, rec)
            await asyncio.sleep(max(0.05, min(t_next_pan, t_next_save) - time.monotonic()))


async def _next_task(client, info, headers, rec) -> dict | None:
    r = await _timed(rec, "next_task", client.get(f"/api/assignments/next/?project={info['project']}"))
    if r is None or r.status_code != 200 or not r.json().get("assignment"):
        return None
    body = r.json()
    aid = body["assignment"]["id"]
    await _timed(rec, "start", client.post(f"/api/assignments/{aid}/start/", headers=headers))
    return {"assignment": aid, "task": body["task"]["id"], "bbox": body["task"]["bbox"]}


async def _tile(client, url: str, rec: Recorder, seen: set, slots: asyncio.Semaphore) -> None:
    """A tile, recorded as ``tile_cached`` if any annotator fetched it before (it is in the shared tile
    cache) and ``tile_first`` otherwise; ``tile`` holds both.

    The clock starts once one of the annotator's connections is free (``slots``), as a browser's
    request timing does: the time a request queues behind the others of its own pan is not latency.
    """
    async with slots:
        t0 = time.perf_counter()
        cached = url in seen
        r = await _timed(rec, "tile", client.get(url))
    if r is not None and r.status_code == 200:
        rec.lat.setdefault("tile_cached" if cached else "tile_first", []).append((time.perf_counter() - t0) * 1000)
        seen.add(url)


async def _pan(client, tile_base, levels, info, rec, rng) -> None:
    level = rng.choice(list(levels))
    cols, rows = levels[level]
    # a pan reveals a 5x4 block of tiles next to where the annotator looked before (mostly cached)
    c0, r0 = rng.randrange(max(cols - 4, 1)), rng.randrange(max(rows - 3, 1))
    urls = [f"{tile_base}/{level}/{c}_{r}.jpeg" for c in range(c0, min(c0 + 5, cols)) for r in range(r0, min(r0 + 4, rows))]
    slots = asyncio.Semaphore(CONNECTIONS)
    await asyncio.gather(*[_tile(client, u, rec, info["seen_tiles"], slots) for u in urls])
    size = info["size"]
    x0, y0 = rng.uniform(0, size * 0.7), rng.uniform(0, size * 0.7)
    bbox = f"{x0:.0f},{y0:.0f},{x0 + size * 0.3:.0f},{y0 + size * 0.3:.0f}"
    await _timed(rec, "viewport", client.get(f"/api/annotations/?pair={info['pair']}&bbox={bbox}&zoom=1"))


async def _save(client, headers, info, task, rec, acked, rng) -> None:
    x0, y0, x1, y1 = task["bbox"]
    items = []
    for _ in range(rng.randint(1, 5)):
        items.append({"op": "upsert", "id": str(uuid.uuid4()), "version": 0, "pair": info["pair"], "task": task["task"],
                      "label_class": rng.choice(info["classes"]),
                      "geometry": {"type": "Point", "coordinates": [rng.uniform(x0 + 1, x1 - 1), rng.uniform(y0 + 1, y1 - 1)]}})
    r = await _timed(rec, "save", client.post("/api/annotations/bulk/", json={"items": items}, headers=headers))
    if r is not None and r.status_code == 200:
        for res in r.json()["results"]:
            acked[res["id"]] = res["version"]


def _tile_levels(size: int, tile: int = 256) -> dict[int, tuple[int, int]]:
    import math

    top = math.ceil(math.log2(size))
    out = {}
    for level in range(top - 3, top + 1):
        px = math.ceil(size / 2 ** (top - level))
        out[level] = (math.ceil(px / tile), math.ceil(px / tile))
    return out


def _lost_writes(env: dict, acked: dict[str, int]) -> int:
    import psycopg

    if not acked:
        return 0
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = dict(conn.execute("SELECT id::text, version FROM annotation_annotation WHERE id = ANY(%s::uuid[])",
                                 (list(acked),)).fetchall())
    return sum(1 for k, v in acked.items() if rows.get(k) is None or rows[k] < v)


def _clear_labels(env: dict) -> int:
    """Every run starts from the same database: the labels earlier runs saved are deleted (they pile up ~6,000 a
    run, and the viewport and save paths slow down with them, so back-to-back runs were not comparable)."""
    import psycopg

    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("DELETE FROM annotation_annotationevent")
        n = conn.execute("DELETE FROM annotation_annotation").rowcount
        conn.execute("DELETE FROM annotation_bulkrequest")
        # autovacuum is off on this machine: the density grid and the history churn as much as the labels
        conn.execute("VACUUM ANALYZE annotation_annotation, annotation_annotationevent, annotation_densitycell")
    return n


async def run(args) -> dict:
    env = _setup_env(args)
    setup = subprocess.run([sys.executable, "-c", SETUP_SCRIPT, str(args.annotators), str(args.slide_px)],
                           env=env, cwd=ROOT, capture_output=True, text=True)
    if setup.returncode != 0:
        raise SystemExit(setup.stderr[-3000:])
    cleared = _clear_labels(env)
    info = json.loads(setup.stdout.strip().splitlines()[-1])
    port = 8700 + random.randrange(200)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(args.workers), "--log-level", "warning", "--no-access-log",
         # idle keep-alive connections outlive the client's (60 s): with uvicorn's default 5 s, a pan every
         # 5 s raced the server closing the connection ("Server disconnected without sending a response")
         "--timeout-keep-alive", str(KEEP_ALIVE_S)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(ROOT / "var" / "bench" / "load-server.log", "wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(300):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
        rec, acked = Recorder(), {}
        rng = random.Random(args.seed)
        levels = _tile_levels(info["size"])
        info["seen_tiles"] = set()
        sessions_file = ROOT / "var" / "bench" / "load-sessions.json"
        info["sessions"] = json.loads(sessions_file.read_text()) if sessions_file.exists() else {}
        if info["sessions"].get("_db") != [DB_NAME, info["project"]]:
            info["sessions"] = {"_db": [DB_NAME, info["project"]]}
        clock = {"ready": 0, "go": asyncio.Event(), "deadline": 0.0, "logins": asyncio.Semaphore(4)}
        workers = [
            asyncio.create_task(annotator(base, u, info, clock, rec, acked, random.Random(rng.random()), levels))
            for u in info["users"][: args.annotators]
        ]
        while clock["ready"] + sum(w.done() for w in workers) < len(workers):
            await asyncio.sleep(0.2)
        sessions_file.write_text(json.dumps(info["sessions"]))
        logged_in = clock["ready"]
        if logged_in < len(workers):
            print(f"{len(workers) - logged_in} annotators could not log in: {rec.reasons}", file=sys.stderr)
        rec.lat.clear(), rec.errors.clear(), rec.reasons.clear(), rec.samples.clear(), rec.server.clear()  # the working minute only
        rec.requests = 0
        load_before, cpu_before, server_before = os.getloadavg(), _cpu_self(), _tree_cpu(server.pid)
        started = time.monotonic()
        clock["deadline"] = started + args.seconds
        clock["go"].set()
        await asyncio.gather(*workers)
        elapsed = time.monotonic() - started
        client_cpu, load_after = _cpu_self() - cpu_before, os.getloadavg()
        server_cpu = _tree_cpu(server.pid) - server_before
    finally:
        server.terminate()
        server.wait(20)
    routes = rec.summary()
    errors = sum(rec.errors.values())
    for line in rec.samples:
        print(f"error sample: {line}", file=sys.stderr)
    return {
        "annotators": args.annotators, "annotators_working": logged_in, "seconds": round(elapsed, 1), "requests": rec.requests,
        "requests_per_s": round(rec.requests / elapsed, 1), "errors": errors,
        "save_p95_ms": routes.get("save", {}).get("p95_ms"),
        "tile_p95_ms": routes.get("tile_cached", {}).get("p95_ms"),  # the target is for cached tiles
        "tile_all_p95_ms": routes.get("tile", {}).get("p95_ms"),
        "viewport_p95_ms": routes.get("viewport", {}).get("p95_ms"), "acknowledged_writes": len(acked), "labels_cleared_at_start": cleared,
        "lost_writes": _lost_writes(env, acked), "web_workers": args.workers, "routes": routes,
        "errors_by_route": rec.reasons, "server_timing": rec.server_summary(), "client_cpu_s": round(client_cpu, 1), "server_cpu_s": round(server_cpu, 1),
        "server_cpu_ms_per_request": round(server_cpu * 1000 / max(1, rec.requests), 2),
        "client_cpu_share_of_2_cores": round(client_cpu / elapsed / 2, 3),
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after],
        "db_pool": env.get("DB_POOL", "1") != "0",
    }


def _tree_cpu(pid: int) -> float:
    """user + system CPU seconds of a process and its descendants (the uvicorn workers), from /proc."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return total


def _cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--slide-px", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the laypath_load database")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
