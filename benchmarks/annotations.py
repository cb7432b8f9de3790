"""Annotation read/write benchmark against PostgreSQL through the real HTTP server (uvicorn + config.asgi).

Loads 1,000,000 five-vertex polygons on one slide pair into a dedicated database (`laypath_bench`, created
if missing, reused on later runs), then measures the viewport query (~2,000 cells), the zoomed-out
whole-slide query, bulk-upserting 10,000 annotations through the API, and (in process) a QuPath GeoJSON
export of all rows when `annotation.exchange` is present.

    .venv/bin/python benchmarks/annotations.py --json [--rows 1000000] [--requests 200]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get("BENCH_DB", "laypath_bench")
PG = "postgres://postgres@127.0.0.1:5432"
SLIDE_W, SLIDE_H = 120_000, 90_000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
            log(f"created database {BENCH_DB}")


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{PG}/{BENCH_DB}"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ["REDIS_PREFIX"] = "laypath-bench"
    os.environ.setdefault("DEBUG", "1")
    os.environ["SECRET_KEY"] = "bench-" + uuid.uuid4().hex + uuid.uuid4().hex  # shared with the server (sessions)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("SECURE_HTTPS", "0")
    os.environ.setdefault("AXES_ENABLED", "0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def world() -> dict:
    """The bench project, pair, class, task and a manager (created once)."""
    from django.contrib.auth import get_user_model

    from annotation.geometry import box_polygon
    from annotation.models import Assignment, LabelClass, Membership, Project, Role, Slide, SlidePair, Task

    user, _ = get_user_model().objects.get_or_create(username="bench-manager")
    project, _ = Project.objects.get_or_create(name="bench", defaults={"blind_mode": False, "redundancy_k": 1})
    Membership.objects.get_or_create(project=project, user=user, defaults={"role": Role.MANAGER})
    slide, _ = Slide.objects.get_or_create(
        project=project, name="bench-he",
        defaults={"file_path": "bench.svs", "width": SLIDE_W, "height": SLIDE_H, "mpp_x": 0.25, "mpp_y": 0.25, "status": "ready"},
    )
    pair, _ = SlidePair.objects.get_or_create(project=project, name="bench-pair", defaults={"anatomical": slide})
    label, _ = LabelClass.objects.get_or_create(project=project, name="cell")
    task = Task.objects.filter(pair=pair).first() or Task.objects.create(
        project=project, pair=pair, region=box_polygon(0, 0, SLIDE_W, SLIDE_H), min_x=0, min_y=0, max_x=SLIDE_W, max_y=SLIDE_H
    )
    Assignment.objects.get_or_create(task=task, annotator=user)
    return {"user": user, "project": project, "pair": pair, "label": label, "task": task}


def _copy_chunk(rows: int, w: dict, rng: random.Random) -> bytes:
    out = io.StringIO()
    now = "2026-01-01 00:00:00+00"
    pid, pair_id, cls, uid = w["project"].id, w["pair"].id, w["label"].id, w["user"].id
    for _ in range(rows):
        cx, cy = rng.uniform(20, SLIDE_W - 20), rng.uniform(20, SLIDE_H - 20)
        r = rng.uniform(3, 8)
        pts = [(round(cx + dx * r + rng.uniform(-1, 1), 1), round(cy + dy * r + rng.uniform(-1, 1), 1))
               for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        ring = pts + [pts[0]]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        geometry = json.dumps({"type": "Polygon", "coordinates": [[list(p) for p in ring]]}, separators=(",", ":"))
        out.write(
            f"{uuid.uuid4()}\t{pid}\t{pair_id}\t\\N\t{cls}\tPolygon\t{geometry}\t{min(xs)}\t{min(ys)}\t{max(xs)}\t{max(ys)}\t"
            f"{cx}\t{cy}\tmodel\t{uid}\t\\N\t\\N\tproposed\t1.0\t{{}}\t1\tf\t{now}\t{now}\n"
        )
    return out.getvalue().encode()


def load(w: dict, target: int) -> int:
    """Bulk-load polygons with COPY until the pair holds `target` rows."""
    from django.db import connection

    from annotation.models import Annotation

    have = Annotation.objects.filter(pair=w["pair"]).count()
    if have >= target:
        log(f"{have} annotations already loaded")
        return have
    rng = random.Random(have)
    columns = ("id, project_id, pair_id, task_id, label_class_id, geom_type, geometry, min_x, min_y, max_x, max_y, cx, cy, "
               "source, author_id, model_version_id, confidence, status, weight, properties, version, is_deleted, "
               "created_at, updated_at")
    start = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        while have < target:
            n = min(100_000, target - have)
            with raw.copy(f"COPY annotation_annotation ({columns}) FROM STDIN") as copy:
                copy.write(_copy_chunk(n, w, rng))
            have += n
            log(f"loaded {have} ({time.perf_counter() - start:.0f} s)")
        cursor.execute("ANALYZE annotation_annotation")
    return have


def cluster_by_tile(tile_px: int = 2048) -> None:
    """Reorder the table tile by tile, as inference writes proposals (and annotators label a field at a time)."""
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS bench_tile_order ON annotation_annotation "
            f"(pair_id, floor(cy / {tile_px}), floor(cx / {tile_px}))"
        )
        cursor.execute("CLUSTER annotation_annotation USING bench_tile_order")
        cursor.execute("DROP INDEX bench_tile_order")
        cursor.execute("ANALYZE annotation_annotation")
    log(f"clustered by {tile_px} px tiles in {time.perf_counter() - start:.0f} s")


def session_cookies(user) -> dict:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.middleware.csrf import _get_new_csrf_string

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return {"sessionid": session.session_key, "csrftoken": _get_new_csrf_string()}


def start_server() -> tuple[subprocess.Popen, str]:
    import httpx

    from tests.support.procs import free_port

    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), DEBUG="0", ALLOWED_HOSTS="127.0.0.1,localhost", SECURE_HTTPS="0")
    env.pop("PYTEST_VERSION", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def time_gets(client, urls: list[str]) -> tuple[list[float], list[dict]]:
    times, bodies = [], []
    for url in urls:
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
        bodies.append(json.loads(response.content))
    return times, bodies


def viewport_urls(pair_id: int, n: int, side: float, zoom: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    urls = []
    for _ in range(n):
        x, y = rng.uniform(0, SLIDE_W - side), rng.uniform(0, SLIDE_H - side)
        urls.append(f"/api/annotations/?pair={pair_id}&bbox={x:.0f},{y:.0f},{x + side:.0f},{y + side:.0f}&zoom={zoom}")
    return urls


def orm_reference_ms(w: dict, urls: list[str]) -> float:
    """p95 of the portable Python path (ORM rows + orjson) for the same viewports, in process."""
    from urllib.parse import parse_qs, urlparse

    from annotation.selectors import annotations as sel
    from annotation.selectors.projects import project_access

    access = project_access(user=w["user"], project_id=w["project"].id)
    vis = sel.visibility_for(user=w["user"], access=access)
    times = []
    for url in urls:
        q = parse_qs(urlparse(url).query)
        x0, y0, x1, y1 = sel.parse_bbox(q["bbox"][0])
        query = sel.ViewportQuery(w["pair"].id, x0, y0, x1, y1, zoom=float(q["zoom"][0]))
        t0 = time.perf_counter()
        sel._viewport_orm(query, vis)
        times.append((time.perf_counter() - t0) * 1000)
    return pct(times, 0.95)


def bulk_upsert(client, w: dict, total: int, batch: int) -> float:
    rng = random.Random(7)
    start = time.perf_counter()
    for _ in range(0, total, batch):
        items = []
        for _ in range(batch):
            x, y = rng.uniform(100, SLIDE_W - 100), rng.uniform(100, SLIDE_H - 100)
            ring = [[x, y], [x + 8, y], [x + 8, y + 7], [x, y + 7], [x, y]]
            items.append({"id": str(uuid.uuid4()), "version": 0, "pair": w["pair"].id, "task": w["task"].id,
                          "label_class": w["label"].id, "geometry": {"type": "Polygon", "coordinates": [ring]}})
        response = client.post("/api/annotations/bulk/", content=json.dumps({"items": items}),
                               headers={"Content-Type": "application/json"})
        if response.status_code != 200:
            raise RuntimeError(f"bulk upsert answered {response.status_code}: {response.text[:300]}")
    return time.perf_counter() - start


def export_seconds(w: dict) -> float | None:
    """Stream every row of the pair as QuPath GeoJSON (in process: there is no export endpoint to call yet)."""
    try:
        from annotation.exchange.geojson import stream_feature_collection
        from annotation.exchange.records import LabelRecord
    except ImportError:
        return None
    from annotation.models import Annotation

    start = time.perf_counter()
    rows = Annotation.objects.filter(pair=w["pair"], is_deleted=False).values_list(
        "id", "geometry", "source", "status", "confidence").iterator(chunk_size=10_000)
    records = (LabelRecord(id=str(r[0]), geometry=r[1], class_name="cell", class_color="#ff0000", source=r[2], status=r[3],
                           confidence=r[4]) for r in rows)
    size = sum(len(chunk) for chunk in stream_feature_collection(records))
    log(f"export: {size / 1e6:.0f} MB")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--cluster", action="store_true", help="store rows tile by tile (as inference writes them)")
    args = parser.parse_args()
    import httpx

    ensure_database()
    setup_django()
    w = world()
    rows = load(w, args.rows)
    if args.cluster:
        cluster_by_tile()
    # ~2,000 cells: the loaded density is rows / (W*H); pick a square side that holds ~2,000 of them
    side = (2000 * SLIDE_W * SLIDE_H / rows) ** 0.5
    cookies = session_cookies(w["user"])
    proc, base = start_server()
    try:
        headers = {"X-CSRFToken": cookies["csrftoken"]}
        with httpx.Client(base_url=base, cookies=cookies, headers=headers, timeout=60) as client:
            warm = viewport_urls(w["pair"].id, 20, side, 2.0, 0)
            time_gets(client, warm)
            # a cheap authenticated request: how slow the shared machine is right now
            baseline, _ = time_gets(client, [f"/api/classes/?project={w['project'].id}"] * 50)
            urls = viewport_urls(w["pair"].id, args.requests, side, 2.0, 1)
            vp_times, vp_bodies = time_gets(client, urls)
            log(f"viewport p50 {pct(vp_times, 0.5):.1f} ms p95 {pct(vp_times, 0.95):.1f} ms")
            # cold: each whole-slide request differs by a pixel, so none is answered from the 15 s overview cache
            cold = [f"/api/annotations/?pair={w['pair'].id}&bbox=0,0,{SLIDE_W - k},{SLIDE_H}&zoom=120" for k in range(20)]
            ov_times, ov_bodies = time_gets(client, cold)
            log(f"overview (cold) p95 {pct(ov_times, 0.95):.1f} ms")
            cached, _ = time_gets(client, [cold[-1]] * 30)
            upsert_s = bulk_upsert(client, w, 10_000, 1000)
            log(f"bulk upsert 10k: {upsert_s:.2f} s")
    finally:
        proc.terminate()
        proc.wait(20)
        from annotation.models import Annotation

        Annotation.objects.filter(pair=w["pair"], source="human").delete()  # keep the loaded set as it was
    result = {
        "annotations": rows,
        "row_order": "tile" if args.cluster else "random",
        "baseline_request_p50_ms": round(pct(baseline, 0.5), 2),
        "viewport_side_px": round(side),
        "viewport_mode": vp_bodies[0]["mode"],
        "viewport_mean_count": round(statistics.mean(b["count"] for b in vp_bodies)),
        "viewport_p50_ms": round(pct(vp_times, 0.5), 2),
        "viewport_p95_ms": round(pct(vp_times, 0.95), 2),
        "viewport_orm_reference_p95_ms": round(orm_reference_ms(w, urls[:20]), 2),
        "overview_mode": ov_bodies[0]["mode"],
        "overview_p50_ms": round(pct(ov_times, 0.5), 2),
        "overview_p95_ms": round(pct(ov_times, 0.95), 2),
        "overview_cached_p95_ms": round(pct(cached, 0.95), 2),
        "bulk_upsert_10k_s": round(upsert_s, 3),
        "export_1m_s": None if args.no_export else export_seconds(w),
        "load_avg_1m": os.getloadavg()[0],
    }
    if result["export_1m_s"] is not None:
        result["export_1m_s"] = round(result["export_1m_s"], 2)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
