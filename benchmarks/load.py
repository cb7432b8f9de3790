"""Load harness: N simulated annotators against the real ASGI server (uvicorn) with PostgreSQL and Redis.

Each annotator works like a person: a pan/zoom every 5 s fetching ~20 tiles (mostly cached, some new),
a viewport annotation query on every pan, a saved batch of 1-5 annotations every 3 s, a task submit
every 2 minutes. Afterwards every acknowledged annotation is looked up in the database: `lost_writes`
counts acknowledged writes whose row or version is missing. Prints one JSON object.

    python benchmarks/load.py --json --annotators 100 --seconds 60

Needs DATABASE_URL (PostgreSQL) and REDIS_URL; creates its own database `laypath_load` on that server.
Only loopback traffic; bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _db_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _setup_env(args) -> dict:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": _db_url(base, "laypath_load"), "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "REDIS_PREFIX": f"laypath-load-{uuid.uuid4().hex[:6]}", "DEBUG": "0", "SECURE_HTTPS": "0", "AXES_ENABLED": "0",
        "SECRET_KEY": "load-benchmark-secret-key-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SLIDE_ROOT": str(ROOT / "var" / "bench" / "load-slides"), "LAYPATH_VAR_DIR": str(ROOT / "var" / "bench" / "load-var"),
        "API_THROTTLE_USER": "100000/min", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    })
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        if args.fresh:
            conn.execute("DROP DATABASE IF EXISTS laypath_load WITH (FORCE)")
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname='laypath_load'").fetchone()
        if not exists:
            conn.execute("CREATE DATABASE laypath_load")
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
        self.requests = 0

    def add(self, route: str, seconds: float, ok: bool) -> None:
        self.requests += 1
        self.lat.setdefault(route, []).append(seconds * 1000)
        if not ok:
            self.errors[route] = self.errors.get(route, 0) + 1

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
    except Exception:
        rec.add(route, time.perf_counter() - t0, False)
        return None
    rec.add(route, time.perf_counter() - t0, response.status_code in ok_status)
    return response


async def annotator(base: str, username: str, info: dict, clock: dict, rec: Recorder, acked: dict, rng: random.Random,
                    tile_levels: dict) -> None:
    import httpx

    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        await client.get("/accounts/login/")
        csrf = client.cookies.get("csrftoken")
        r = await client.post("/accounts/login/", data={"username": username, "password": "load-password-1",
                                                        "csrfmiddlewaretoken": csrf}, headers={"Referer": base + "/accounts/login/"})
        if r.status_code not in (200, 302) or "sessionid" not in client.cookies:
            rec.add("login", 0, False)
            print(f"{username}: login failed ({r.status_code})", file=sys.stderr)
            return
        headers = {"X-CSRFToken": client.cookies.get("csrftoken"), "Referer": base + "/"}
        viewer = await _timed(rec, "viewer", client.get(f"/api/pairs/{info['pair']}/viewer/"))
        if viewer is None or viewer.status_code != 200:
            return
        dzi = viewer.json()["anatomical"]["dzi_url"]
        tile_base = dzi.rsplit("/", 1)[0] + "/slide_files"
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


async def _pan(client, tile_base, levels, info, rec, rng) -> None:
    level = rng.choice(list(levels))
    cols, rows = levels[level]
    # a pan reveals a 5x4 block of tiles next to where the annotator looked before (mostly cached)
    c0, r0 = rng.randrange(max(cols - 4, 1)), rng.randrange(max(rows - 3, 1))
    urls = [f"{tile_base}/{level}/{c}_{r}.jpeg" for c in range(c0, min(c0 + 5, cols)) for r in range(r0, min(r0 + 4, rows))]
    await asyncio.gather(*[_timed(rec, "tile", client.get(u)) for u in urls])
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


async def run(args) -> dict:
    env = _setup_env(args)
    setup = subprocess.run([sys.executable, "-c", SETUP_SCRIPT, str(args.annotators), str(args.slide_px)],
                           env=env, cwd=ROOT, capture_output=True, text=True)
    if setup.returncode != 0:
        raise SystemExit(setup.stderr[-3000:])
    info = json.loads(setup.stdout.strip().splitlines()[-1])
    port = 8700 + random.randrange(200)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(args.workers), "--log-level", "warning", "--no-access-log"],
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
        clock = {"ready": 0, "go": asyncio.Event(), "deadline": 0.0}
        workers = [
            asyncio.create_task(annotator(base, u, info, clock, rec, acked, random.Random(rng.random()), levels))
            for u in info["users"][: args.annotators]
        ]
        while clock["ready"] + sum(w.done() for w in workers) < len(workers):
            await asyncio.sleep(0.2)
        rec.lat.clear(), rec.errors.clear()  # measure the working minute only
        rec.requests = 0
        started = time.monotonic()
        clock["deadline"] = started + args.seconds
        clock["go"].set()
        await asyncio.gather(*workers)
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(20)
    routes = rec.summary()
    errors = sum(rec.errors.values())
    return {
        "annotators": args.annotators, "seconds": round(elapsed, 1), "requests": rec.requests,
        "requests_per_s": round(rec.requests / elapsed, 1), "errors": errors,
        "save_p95_ms": routes.get("save", {}).get("p95_ms"), "tile_p95_ms": routes.get("tile", {}).get("p95_ms"),
        "viewport_p95_ms": routes.get("viewport", {}).get("p95_ms"), "acknowledged_writes": len(acked),
        "lost_writes": _lost_writes(env, acked), "web_workers": args.workers, "routes": routes,
    }


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
