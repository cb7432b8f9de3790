"""Annotation read/write benchmark against PostgreSQL through the real HTTP server (uvicorn + config.asgi).

Loads 1,000,000 five-vertex polygons on one slide pair into a dedicated database (`laypath_bench_annotations`,
created if missing, reused on later runs; rows are written tile by tile, as inference writes proposals), then
measures through the HTTP server the viewport query (~2,000 cells), the zoomed-out whole-slide query,
bulk-upserting 10,000 annotations, and the QuPath GeoJSON export of all rows; and, server-side only, the SQL
execution time of the viewport and overview queries (EXPLAIN ANALYZE), so a loaded machine can be told apart.

    .venv/bin/python benchmarks/annotations.py --json [--rows 1000000] [--requests 200] [--no-export]
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
BENCH_DB = os.environ.get("BENCH_DB", "laypath_bench_annotations")
TILE = 2048
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


def _centres(total: int, rng: random.Random):
    """`total` uniform centroids over the slide, yielded band by band and tile by tile (2,048 px)."""
    bands = range(0, SLIDE_H, TILE)
    done = 0
    for k, y0 in enumerate(bands):
        n = total - done if k == len(bands) - 1 else round(total * (min(y0 + TILE, SLIDE_H) - y0) / SLIDE_H)
        done += n
        pts = [(rng.uniform(20, SLIDE_W - 20), rng.uniform(max(y0, 20), min(y0 + TILE, SLIDE_H - 20))) for _ in range(n)]
        pts.sort(key=lambda p: p[0] // TILE)
        yield from pts


def _copy_chunk(centres: list[tuple[float, float]], w: dict, rng: random.Random) -> bytes:
    out = io.StringIO()
    now = "2026-01-01 00:00:00+00"
    pid, pair_id, cls = w["project"].id, w["pair"].id, w["label"].id  # proposals: no author until someone decides
    for cx, cy in centres:
        r = rng.uniform(3, 8)
        pts = [(round(cx + dx * r + rng.uniform(-1, 1), 1), round(cy + dy * r + rng.uniform(-1, 1), 1))
               for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        ring = pts + [pts[0]]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        geometry = json.dumps({"type": "Polygon", "coordinates": [[list(p) for p in ring]]}, separators=(",", ":"))
        out.write(
            f"{uuid.uuid4()}\t{pid}\t{pair_id}\t\\N\t{cls}\tPolygon\t{geometry}\t{min(xs)}\t{min(ys)}\t{max(xs)}\t{max(ys)}\t"
            f"{cx}\t{cy}\tmodel\t\\N\t\\N\t\\N\tproposed\t1.0\t{{}}\t1\tf\t{now}\t{now}\n"
        )
    return out.getvalue().encode()


def load(w: dict, target: int) -> int:
    """Bulk-load polygons with COPY (tile by tile) when the pair holds fewer than `target` rows."""
    from django.db import connection

    from annotation.models import Annotation

    have = Annotation.objects.filter(pair=w["pair"]).count()
    if have >= target:
        log(f"{have} annotations already loaded")
        return have
    with connection.cursor() as cursor:  # a partial earlier load: start again (raw SQL, the ORM cascade is slow)
        cursor.execute("DELETE FROM annotation_annotationevent e USING annotation_annotation a "
                       "WHERE e.annotation_id = a.id AND a.pair_id = %s", [w["pair"].id])
        cursor.execute("DELETE FROM annotation_annotation WHERE pair_id = %s", [w["pair"].id])
    rng = random.Random(1)
    columns = ("id, project_id, pair_id, task_id, label_class_id, geom_type, geometry, min_x, min_y, max_x, max_y, cx, cy, "
               "source, author_id, model_version_id, confidence, status, weight, properties, version, is_deleted, "
               "created_at, updated_at")
    start, have, batch = time.perf_counter(), 0, []
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for centre in [*_centres(target, rng), None]:
            if centre is not None:
                batch.append(centre)
            if len(batch) == 100_000 or (centre is None and batch):
                with raw.copy(f"COPY annotation_annotation ({columns}) FROM STDIN") as copy:
                    copy.write(_copy_chunk(batch, w, rng))
                have += len(batch)
                batch = []
                log(f"loaded {have} ({time.perf_counter() - start:.0f} s)")
        cursor.execute("VACUUM ANALYZE annotation_annotation" if connection.get_autocommit() else "ANALYZE annotation_annotation")
        cursor.execute("ANALYZE annotation_densitycell")
    return have


def vacuum() -> None:
    """VACUUM ANALYZE the tables every run churns (it inserts 20,000 labels and deletes them again).

    This machine's PostgreSQL runs with autovacuum off; without this, dead rows piled up run after run (229,000
    in the annotation table and 337,000 in the 10,000-row density grid after a day) and every figure got worse.
    """
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(f"{PG}/{BENCH_DB}", autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) annotation_annotation, annotation_annotationevent, annotation_densitycell,"
                     " annotation_bulkrequest")
    log(f"vacuumed in {time.perf_counter() - started:.1f} s")


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
         "--workers", "2", "--timeout-keep-alive", "75", "--log-level", "warning", "--no-access-log"],  # as deployed
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


def bulk_bodies(w: dict, total: int, batch: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    bodies = []
    for _ in range(0, total, batch):
        items = []
        for _ in range(batch):
            x, y = rng.uniform(100, SLIDE_W - 100), rng.uniform(100, SLIDE_H - 100)
            ring = [[x, y], [x + 8, y], [x + 8, y + 7], [x, y + 7], [x, y]]
            items.append({"id": str(uuid.uuid4()), "version": 0, "pair": w["pair"].id, "task": w["task"].id,
                          "label_class": w["label"].id, "geometry": {"type": "Polygon", "coordinates": [ring]}})
        bodies.append({"items": items})
    return bodies


def bulk_upsert(client, w: dict, total: int, batch: int) -> float:
    bodies = [json.dumps(b) for b in bulk_bodies(w, total, batch, 7)]
    start = time.perf_counter()
    for body in bodies:
        response = client.post("/api/annotations/bulk/", content=body, headers={"Content-Type": "application/json"})
        if response.status_code != 200:
            raise RuntimeError(f"bulk upsert answered {response.status_code}: {response.text[:300]}")
    return time.perf_counter() - start


def bulk_upsert_in_flight(client, w: dict, total: int, batch: int, in_flight: int) -> float:
    """The same 10 x 1,000 upsert as a bulk-import client would send it: `in_flight` requests at a time, each on a
    keep-alive connection of its own (the server runs one worker per core)."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    bodies = [json.dumps(b) for b in bulk_bodies(w, total, batch, 11)]
    clients = [httpx.Client(base_url=client.base_url, cookies=client.cookies, headers=client.headers, timeout=60)
               for _ in range(in_flight)]

    def send(k: int) -> None:
        response = clients[k % in_flight].post("/api/annotations/bulk/", content=bodies[k],
                                               headers={"Content-Type": "application/json"})
        if response.status_code != 200:
            raise RuntimeError(f"bulk upsert answered {response.status_code}: {response.text[:300]}")

    try:
        for c in clients:  # open the connections before timing
            c.get("/healthz")
        start = time.perf_counter()
        with ThreadPoolExecutor(in_flight) as pool:
            list(pool.map(send, range(len(bodies))))
        return time.perf_counter() - start
    finally:
        for c in clients:
            c.close()


def bulk_in_process_ms(w: dict, batches: int = 3) -> tuple[float, float]:
    """Median time of the bulk service alone (no HTTP, no request parsing) to create 1,000 polygons, and to move
    those 1,000 by a pixel (optimistic version 1 -> 2, one event each)."""
    from annotation.serializers.annotations import parse_bulk_request
    from annotation.services.annotations import annotation_bulk_apply

    create, update = [], []
    for body in bulk_bodies(w, 1000 * batches, 1000, 8):
        items, key = parse_bulk_request(body)
        t0 = time.perf_counter()
        annotation_bulk_apply(actor=w["user"], items=items, request_key=key)
        create.append((time.perf_counter() - t0) * 1000)
        moved = [{"id": i["id"], "version": 1, "geometry": {"type": "Polygon", "coordinates": [
            [[x + 1, y] for x, y in i["geometry"]["coordinates"][0]]]}} for i in body["items"]]
        items, key = parse_bulk_request({"items": moved})
        t0 = time.perf_counter()
        annotation_bulk_apply(actor=w["user"], items=items, request_key=key)
        update.append((time.perf_counter() - t0) * 1000)
    return statistics.median(create), statistics.median(update)


def export_over_http(client, w: dict) -> tuple[float, int, int]:
    """Stream every visible row of the pair as QuPath GeoJSON from the export endpoint: seconds, bytes, features."""
    start, size, features = time.perf_counter(), 0, 0
    with client.stream("GET", f"/api/pairs/{w['pair'].id}/export/geojson/", timeout=600) as response:
        response.raise_for_status()
        tail = b""
        for chunk in response.iter_bytes(1 << 20):
            size += len(chunk)
            features += (tail + chunk).count(b'{"type":"Feature"') - tail.count(b'{"type":"Feature"')
            tail = chunk[-32:]
    return time.perf_counter() - start, size, features


def sql_ms(sql: str, params: list) -> float:
    """Server-side execution time of one statement (EXPLAIN ANALYZE), without HTTP, Python or the client."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, TIMING OFF) " + sql, params)
        last = cursor.fetchall()[-1][0]
    return float(last.split()[2])


def server_side(w: dict, urls: list[str], overview_box: tuple[float, float, float, float]) -> dict:
    """p50/p95 SQL execution time of the viewport statement (same boxes as over HTTP) and of the overview."""
    from urllib.parse import parse_qs, urlparse

    from annotation.selectors import annotations as sel
    from annotation.selectors import overview

    vis = sel.Visibility(project_id=w["project"].id)
    viewport = []
    for url in urls:
        q = parse_qs(urlparse(url).query)
        query = sel.ViewportQuery(w["pair"].id, *sel.parse_bbox(q["bbox"][0]), zoom=float(q["zoom"][0]))
        where, params = sel.filters_sql(query, vis)
        viewport.append(sql_ms(sel.capped_sql(where, sel.FEATURE_SQL, sel.MAX_FEATURES), params))
    box = sel.ViewportQuery(w["pair"].id, *overview_box, zoom=120)
    sql, params, _ = overview.grid_sql(box, vis, sel.DEFAULT_BINS)
    ov = [sql_ms(sql, params) for _ in range(10)]
    return {
        "sql_viewport_p50_ms": round(pct(viewport, 0.5), 2), "sql_viewport_p95_ms": round(pct(viewport, 0.95), 2),
        "sql_overview_p50_ms": round(pct(ov, 0.5), 2), "sql_overview_p95_ms": round(pct(ov, 0.95), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-export", action="store_true")
    args = parser.parse_args()
    import httpx

    ensure_database()
    setup_django()
    w = world()
    rows = load(w, args.rows)
    vacuum()
    load_before = os.getloadavg()[0]
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
            # each whole-slide request differs by a pixel (nothing is cached on this path anyway)
            whole = [f"/api/annotations/?pair={w['pair'].id}&bbox=0,0,{SLIDE_W - k},{SLIDE_H}&zoom=120" for k in range(50)]
            ov_times, ov_bodies = time_gets(client, whole)
            log(f"overview p95 {pct(ov_times, 0.95):.1f} ms")
            upsert_s = bulk_upsert(client, w, 10_000, 1000)
            log(f"bulk upsert 10k: {upsert_s:.2f} s")
            upsert2_s = bulk_upsert_in_flight(client, w, 10_000, 1000, 2)
            log(f"bulk upsert 10k, 2 requests in flight: {upsert2_s:.2f} s")
            export = None if args.no_export else export_over_http(client, w)
            if export:
                log(f"export: {export[0]:.1f} s, {export[1] / 1e6:.0f} MB, {export[2]} features")
    finally:
        proc.terminate()
        proc.wait(20)
        from annotation.models import Annotation

        Annotation.objects.filter(pair=w["pair"], source="human").delete()  # keep the loaded set as it was
    sql = server_side(w, urls[:50], (0, 0, SLIDE_W, SLIDE_H))
    bulk_service_ms, bulk_update_ms = bulk_in_process_ms(w)
    Annotation.objects.filter(pair=w["pair"], source="human").delete()
    result = {
        "annotations": rows,
        "row_order": "tile",
        "load_avg_1m_start": load_before,
        "baseline_request_p50_ms": round(pct(baseline, 0.5), 2),
        "viewport_side_px": round(side),
        "viewport_mode": vp_bodies[0]["mode"],
        "viewport_mean_count": round(statistics.mean(b["count"] for b in vp_bodies)),
        "viewport_p50_ms": round(pct(vp_times, 0.5), 2),
        "viewport_p95_ms": round(pct(vp_times, 0.95), 2),
        "viewport_orm_reference_p95_ms": round(orm_reference_ms(w, urls[:10]), 2),
        "overview_mode": ov_bodies[0]["mode"],
        "overview_cells": len(ov_bodies[0]["cells"]),
        "overview_p50_ms": round(pct(ov_times, 0.5), 2),
        "overview_p95_ms": round(pct(ov_times, 0.95), 2),
        "bulk_upsert_10k_s": round(upsert_s, 3),
        "bulk_upsert_10k_2_in_flight_s": round(upsert2_s, 3),
        "bulk_service_1k_ms": round(bulk_service_ms, 1),
        "bulk_service_update_1k_ms": round(bulk_update_ms, 1),
        "export_1m_s": round(export[0], 2) if export else None,
        "export_mb": round(export[1] / 1e6) if export else None,
        "export_features": export[2] if export else None,
        **sql,
        "load_avg_1m_end": os.getloadavg()[0],
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
