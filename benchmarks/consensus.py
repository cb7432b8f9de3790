"""Benchmark the consensus engine on simulated annotators with known confusion matrices.

Usage: python benchmarks/consensus.py [--json] [--small] [--cells auto|scene|grid] [--seeds 2026,2027,2028]

Scenarios (seeds differ from the unit tests' seeds):
  trio    3 annotators per task (two good, one poor), exhaustive, with a simulated model:
          Dawid-Skene vs majority vote, review-queue recall of true consensus errors, rebuild time.
  sparse  the same three in sparse mode (partial coverage, missing = unknown).
  clean   better annotators (0.95 / 0.9 / 0.6): queue recall where errors are rarer than 10%.
  pool    8 annotators with spread reliabilities, 3 random ones per task: correlation of the
          estimated with the true reliability (a 3-point correlation would be meaningless).
  queue   review-queue recall over every report seed x (trio, clean, sparse, pool) at the smaller
          size: mean and minimum. The score's settings were chosen on development seeds 11/77/79;
          the report seeds (2026+) were not used for tuning.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mlbackend.engine.consensus import (  # noqa: E402
    ConsensusConfig,
    ReviewConfig,
    build_consensus,
    consensus_labels,
    review_order,
    review_queue,
    task_disagreements,
    task_priorities,
)
from mlbackend.engine.consensus.simulate import (  # noqa: E402
    SimAnnotator,
    cluster_truth,
    make_confusion,
    simulate_slide,
)

CONFIG = ConsensusConfig(radius_um=3.0)
SEED = 2026
REPORT_SEEDS = (2026, 2027, 2028)
MAX_QUEUE = 5000  # items the platform stores per rebuild (mlbackend.pipelines.consensus.MAX_QUEUE)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def scene_cells(n_cells: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Cell centres/classes from the synthetic slide generator, or None if it is not available."""
    try:
        from mlbackend.engine.synthetic.config import CLASSES
        from mlbackend.engine.synthetic.scene import Scene
    except ImportError:
        return None
    side = 4000
    scene = Scene(width=200_000, height=200_000, seed=seed)
    xs, ys, cs = [], [], []
    total, i = 0, 0
    while total < n_cells:
        bx, by = (i % 40) * side, (i // 40) * side
        batch = scene.cell_batch_in(bx, by, side, side)
        xs.append(batch.x)
        ys.append(batch.y)
        cs.append(batch.cls)
        total += len(batch)
        i += 1
    x, y, c = np.concatenate(xs)[:n_cells], np.concatenate(ys)[:n_cells], np.concatenate(cs)[:n_cells]
    weights = np.bincount(c, minlength=len(CLASSES)) / len(c)
    return x, y, c.astype(np.int64), weights


def get_cells(source: str, n_cells: int, seed: int, n_classes_grid: int = 4):
    """(x, y, cls) plus the class prior; 'grid' draws a seeded jittered grid with a uniform prior."""
    if source in ("auto", "scene"):
        got = scene_cells(n_cells, seed)
        if got is not None:
            return got[:3], got[3], "scene"
        if source == "scene":
            raise SystemExit("synthetic Scene API not importable")
    from mlbackend.engine.consensus.simulate import generate_cells

    prior = np.full(n_classes_grid, 1.0 / n_classes_grid)
    return generate_cells(n_cells, np.random.default_rng(seed), prior), prior, "grid"


def accuracy(result, sim) -> dict:
    """Consensus accuracy over clusters with at least one human observation (FP clusters: truth = no cell)."""
    truth = cluster_truth(result, sim)
    lab = result.arrays.state >= 0
    real = lab & (truth != result.arrays.no_cell)
    ds, mv = result.arrays.state, result.arrays.mv_state
    return {
        "ds": float((ds[lab] == truth[lab]).mean()), "mv": float((mv[lab] == truth[lab]).mean()),
        "ds_real_cells": float((ds[real] == truth[real]).mean()),
        "mv_real_cells": float((mv[real] == truth[real]).mean()),
        "n_clusters": int(lab.sum()), "truth": truth,
    }


def queue_recall(result, truth: np.ndarray, config: ReviewConfig | None = None) -> tuple[float, float]:
    """Share of consensus errors in the top 10% of the review order, and of a seeded random order."""
    errors = (result.arrays.state != truth) & (result.arrays.state >= 0)
    order = review_order(result, config)
    top = max(len(order) // 10, 1)
    random_order = np.random.default_rng(SEED).permutation(order)
    n_err = max(int(errors.sum()), 1)
    return float(errors[order[:top]].sum() / n_err), float(errors[random_order[:top]].sum() / n_err)


def trio(n_classes: int, detect: tuple[float, float, float]) -> tuple[SimAnnotator, ...]:
    return (SimAnnotator("good1", make_confusion(0.9, n_classes), detect[0]),
            SimAnnotator("good2", make_confusion(0.8, n_classes), detect[1]),
            SimAnnotator("poor", make_confusion(0.4, n_classes), detect[2]))


def run_trio(cells, prior, n_cells: int, seed: int = SEED) -> dict:
    k = len(prior)
    sim = simulate_slide(n_cells, trio(k, (0.9, 0.85, 0.8)), k_per_task=3, seed=seed + 1, cells=cells, prior=prior)
    log(f"trio: {len(sim.tasks)} tasks, {sum(len(t.labels) for t in sim.tasks)} labels; rebuilding")
    t0, c0 = time.perf_counter(), time.process_time()
    result = build_consensus(sim.tasks, config=CONFIG)
    t_build = time.perf_counter() - t0
    cells_out = consensus_labels(result)
    queue = review_queue(result, ReviewConfig(max_items=MAX_QUEUE))
    task_disagreements(result)
    task_priorities(result)
    rebuild, rebuild_cpu = time.perf_counter() - t0, time.process_time() - c0
    t1 = time.perf_counter()
    review_queue(result)
    full_queue_s = time.perf_counter() - t1
    acc = accuracy(result, sim)
    top, rand = queue_recall(result, acc["truth"])
    top_no_model, _ = queue_recall(result, acc["truth"], ReviewConfig(use_model=False))
    errors = int(((result.arrays.state != acc["truth"]) & (result.arrays.state >= 0)).sum())
    oracle = min(1.0, (acc["n_clusters"] // 10) / max(errors, 1))
    return {"result": result, "tasks": sim.tasks, "acc": acc, "rebuild_s": rebuild, "rebuild_cpu_s": rebuild_cpu, "build_s": t_build, "oracle": oracle, "n_cells_out": len(cells_out.index),
            "full_queue_s": full_queue_s,
            "n_queue": len(queue), "top10": top, "random10": rand, "top10_no_model": top_no_model,
            "iterations": result.fit.iterations, "n_labels": int(len(result.arrays.label_cell))}


def run_trio_queue(cells, prior, n_cells: int, seed: int = SEED) -> dict:
    """The trio scenario at the smaller size: queue recall only (robustness over seeds)."""
    k = len(prior)
    sim = simulate_slide(n_cells, trio(k, (0.9, 0.85, 0.8)), k_per_task=3, seed=seed + 1, cells=cells, prior=prior)
    result = build_consensus(sim.tasks, config=CONFIG)
    acc = accuracy(result, sim)
    top, rand = queue_recall(result, acc["truth"])
    return {"acc": acc, "top10": top, "random10": rand}


def run_sparse(cells, prior, n_cells: int, seed: int = SEED) -> dict:
    k = len(prior)
    sim = simulate_slide(n_cells, trio(k, (0.6, 0.5, 0.5)), k_per_task=3, seed=seed + 2, mode="sparse",
                         cells=cells, prior=prior)
    result = build_consensus(sim.tasks, config=CONFIG)
    acc = accuracy(result, sim)
    top, rand = queue_recall(result, acc["truth"])
    return {"acc": acc, "top10": top, "random10": rand}


def run_clean(cells, prior, n_cells: int, seed: int = SEED) -> dict:
    """Better annotators (0.95 / 0.9 / 0.6): consensus errors are rarer than 10% of cells."""
    k = len(prior)
    pool = (SimAnnotator("g1", make_confusion(0.95, k), 0.92), SimAnnotator("g2", make_confusion(0.9, k), 0.9),
            SimAnnotator("p", make_confusion(0.6, k), 0.85))
    sim = simulate_slide(n_cells, pool, k_per_task=3, seed=seed + 5, cells=cells, prior=prior)
    result = build_consensus(sim.tasks, config=CONFIG)
    acc = accuracy(result, sim)
    top, rand = queue_recall(result, acc["truth"])
    errors = int(((result.arrays.state != acc["truth"]) & (result.arrays.state >= 0)).sum())
    return {"acc": acc, "top10": top, "random10": rand, "error_rate": errors / max(acc["n_clusters"], 1)}


def run_pool(cells, prior, n_cells: int, seed: int = SEED) -> dict:
    k = len(prior)
    rng = np.random.default_rng(seed + 3)
    accs = np.linspace(0.35, 0.95, 8)
    detect = rng.permutation(np.linspace(0.7, 0.95, 8))
    pool = tuple(SimAnnotator(f"a{i}", make_confusion(float(a), k), float(d)) for i, (a, d) in
                 enumerate(zip(accs, detect, strict=True)))
    sim = simulate_slide(n_cells, pool, k_per_task=3, seed=seed + 4, cells=cells, prior=prior, task_px=600.0)
    result = build_consensus(sim.tasks, config=CONFIG)
    est = {a.annotator_id: a.reliability for a in result.annotators}
    true_rel = np.array([float(np.diag(p.confusion) @ prior) for p in pool])
    est_rel = np.array([est[p.annotator_id] for p in pool])
    rank = np.corrcoef(np.argsort(np.argsort(true_rel)), np.argsort(np.argsort(est_rel)))[0, 1]
    acc = accuracy(result, sim)
    top, rand = queue_recall(result, acc["truth"])
    return {"corr": float(np.corrcoef(true_rel, est_rel)[0, 1]), "spearman": float(rank), "top10": top, "random10": rand,
            "true": true_rel.round(3).tolist(), "est": est_rel.round(3).tolist(), "acc": acc,
            "n_tasks": len(sim.tasks)}


def queue_robustness(source: str, n_cells: int, seeds: tuple[int, ...], first: dict) -> dict:
    """Top-10% recall per (seed, setting); `first` holds the already-run settings of seeds[0]."""
    table: dict[str, list[float]] = {"trio": [], "clean": [], "sparse": [], "pool": []}
    corr: list[float] = []
    for seed in seeds:
        cells, prior, _ = get_cells(source, n_cells, seed)
        runs = dict(first) if seed == seeds[0] else {}
        runs.setdefault("trio", run_trio_queue(cells, prior, n_cells, seed))
        runs.setdefault("clean", run_clean(cells, prior, n_cells, seed))
        runs.setdefault("sparse", run_sparse(cells, prior, n_cells, seed))
        runs.setdefault("pool", run_pool(cells, prior, n_cells, seed))
        for name, r in runs.items():
            table[name].append(r["top10"])
        corr.append(runs["pool"]["corr"])
        log(f"seed {seed}: " + ", ".join(f"{k} {v['top10']:.3f}" for k, v in runs.items()))
    every = [v for vals in table.values() for v in vals]
    out = {f"queue_{k}_top10pct": [round(v, 4) for v in vals] for k, vals in table.items()}
    out.update({f"queue_{k}_top10pct_mean": round(float(np.mean(v)), 4) for k, v in table.items()})
    out.update({f"queue_{k}_top10pct_min": round(float(np.min(v)), 4) for k, v in table.items()})
    out.update(queue_top10pct_mean=round(float(np.mean(every)), 4), queue_top10pct_min=round(float(np.min(every)), 4),
               queue_seeds=list(seeds), reliability_corr_min=round(float(np.min(corr)), 4))
    return out


BENCH_DB = "laypath_bench_consensus"


def store_labels(project, tid: dict, tasks) -> int:
    """Write the simulated annotators' labels as Annotation rows (COPY) with submitted assignments, so the
    rebuild's first step, reading its inputs (annotation.selectors.consensus.consensus_inputs), can be timed."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from annotation.models import Assignment, LabelClass
    from annotation.services.annotations_copy import NewRow, insert_annotations

    cls = {c.name: c.id for c in LabelClass.objects.filter(project=project)}
    users = {}
    for t in tasks:
        for who in {lab.annotator_id for lab in t.labels} | set(t.annotator_ids):
            if who not in users:
                users[who] = get_user_model().objects.get_or_create(username=f"bench-{who}")[0].id
    Assignment.objects.bulk_create([Assignment(task_id=tid[t.task_id], annotator_id=users[w], status="submitted")
                                    for t in tasks for w in set(t.annotator_ids) | {lab.annotator_id for lab in t.labels}],
                                   batch_size=5000)
    now, rows = timezone.now(), []
    for t in tasks:
        for lab in t.labels:
            if lab.polygon:
                ring = [[float(x), float(y)] for x, y in lab.polygon]
                geometry = {"type": "Polygon", "coordinates": [ring + [ring[0]]]}
                xs, ys = [p[0] for p in ring], [p[1] for p in ring]
            else:
                geometry = {"type": "Point", "coordinates": [float(lab.x), float(lab.y)]}
                xs, ys = [float(lab.x)], [float(lab.y)]
            rows.append(NewRow(id=uuid.uuid4(), project_id=project.id, pair_id=project.pairs.first().id,
                               task_id=tid[t.task_id], label_class_id=cls[str(lab.class_key)], geom_type=geometry["type"],
                               geometry=geometry, min_x=min(xs), min_y=min(ys), max_x=max(xs), max_y=max(ys),
                               cx=float(lab.x), cy=float(lab.y), author_id=users[lab.annotator_id],
                               created_at=now, updated_at=now))
    for k in range(0, len(rows), 50_000):
        insert_annotations(rows[k:k + 50_000], [])
    return len(rows)


def platform_writes(result, tasks=None, repeats: int = 2) -> dict:
    """Time the pipeline's database writes for `result` in a scratch PostgreSQL database (dropped after).

    Same calls as mlbackend.pipelines.consensus.consensus_rebuild's write block: consensus_replace
    (one annotation per agreed cell), review_queue_replace (top MAX_QUEUE items), task_priorities_record,
    agreement snapshot. Run `repeats` times: from the second on, the previous rows are replaced.
    """
    import os

    import psycopg

    os.environ.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}", DEBUG="1", DB_POOL="0")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone() is None:
            admin.execute(f"CREATE DATABASE {BENCH_DB}")
    from dataclasses import replace

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections, transaction

    from annotation.models import LabelClass, Project, Slide, SlidePair, Task
    from annotation.services.review import (
        ConsensusLabel,
        agreement_snapshot_record,
        consensus_replace,
        review_queue_replace,
        task_priorities_record,
    )
    from mlbackend.pipelines.consensus import _queue_entries

    try:
        call_command("migrate", verbosity=0)
        project = Project.objects.create(name="bench-consensus")
        for i, key in enumerate(result.arrays.classes):
            LabelClass.objects.create(project=project, name=str(key), order=i)
        he = Slide.objects.create(project=project, name="he", file_path="bench/he.svs")
        pair = SlidePair.objects.create(project=project, name="pair", anatomical=he)
        box = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
        rows = Task.objects.bulk_create([Task(project=project, pair=pair, region=box, min_x=0, min_y=0, max_x=1, max_y=1)
                                         for _ in result.arrays.task_ids])
        tid = {key: row.id for key, row in zip(result.arrays.task_ids, rows, strict=True)}
        read = {}
        if tasks is not None:  # the rebuild's first step: read every annotator label back from PostgreSQL
            from annotation.selectors.consensus import consensus_inputs

            stored = store_labels(project, tid, tasks)
            t0, c0 = time.perf_counter(), time.process_time()
            inputs = consensus_inputs(project_id=project.id, model_version_id=None)
            read = {"platform_read_inputs_s": round(time.perf_counter() - t0, 2),
                    "platform_read_inputs_cpu_s": round(time.process_time() - c0, 2),
                    "platform_read_labels": sum(len(i.labels) for i in inputs), "platform_stored_labels": stored}
            log(f"read inputs: {read}")
        times, cpu, steps = [], [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            cl = consensus_labels(result)
            labels = [ConsensusLabel(task_id=tid[t], class_name=str(c), posterior=p, x=x, y=y, ring=r, support=n)
                      for t, c, p, x, y, r, n in zip(cl.task_ids, cl.class_keys, cl.posterior.tolist(), cl.x.tolist(),
                                                     cl.y.tolist(), cl.polygons, cl.support.tolist(), strict=True)]
            entries = [replace(e, task_id=tid[e.task_id]) for e in _queue_entries(result)]
            prios = {tid[p.task_id]: p.priority for p in task_priorities(result)}
            marks = [time.perf_counter()]
            with transaction.atomic():
                written = consensus_replace(project_id=project.id, labels=labels)
                marks.append(time.perf_counter())
                queued = review_queue_replace(project_id=project.id, entries=entries, generation=1)
                marks.append(time.perf_counter())
                task_priorities_record(priorities=prios)
                agreement_snapshot_record(project_id=project.id, cells=result.arrays.n_cells, open_reviews=queued)
                marks.append(time.perf_counter())
            marks.append(time.perf_counter())
            steps.append(dict(zip(("prepare", "consensus_replace", "queue_replace", "priorities", "commit"),
                                  np.round(np.diff([t0, *marks]), 2).tolist(), strict=True)))
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            log(f"platform writes: {written} consensus rows, {queued} queue items: {times[-1]:.1f}s wall {steps[-1]}")
        return {"platform_write_s": [round(t, 2) for t in times], "platform_write_cpu_s": [round(c, 2) for c in cpu],
                "platform_consensus_rows": written, "platform_queue_rows": queued, "platform_steps_s": steps, **read}
    finally:
        connections.close_all()
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--small", action="store_true", help="10,000 cells instead of 100,000")
    ap.add_argument("--cells", choices=("auto", "scene", "grid"), default="auto")
    ap.add_argument("--seeds", default=",".join(map(str, REPORT_SEEDS)),
                    help="report seeds for the queue robustness table (the first also drives the main run)")
    ap.add_argument("--platform", action="store_true",
                    help=f"also time the platform's database writes of the trio rebuild (scratch DB {BENCH_DB})")
    args = ap.parse_args()
    seeds = tuple(int(v) for v in args.seeds.split(","))
    n_trio = 10_000 if args.small else 100_000
    n_other = 10_000 if args.small else 40_000
    log(f"generating {n_trio} cells ({args.cells})")
    cells, prior, source = get_cells(args.cells, n_trio, seeds[0])
    sub = tuple(a[:n_other] for a in cells)
    t = run_trio(cells, prior, n_trio, seeds[0])
    plat = platform_writes(t.pop("result"), t.pop("tasks")) if args.platform else {}
    log(f"trio: ds {t['acc']['ds']:.4f} mv {t['acc']['mv']:.4f} rebuild {t['rebuild_s']:.1f}s")
    s = run_sparse(sub, prior, n_other, seeds[0])
    log(f"sparse: ds {s['acc']['ds']:.4f} mv {s['acc']['mv']:.4f}")
    c = run_clean(sub, prior, n_other, seeds[0])
    log(f"clean: ds {c['acc']['ds']:.4f} mv {c['acc']['mv']:.4f} top10 {c['top10']:.3f}")
    p = run_pool(sub, prior, n_other, seeds[0])
    log(f"pool: reliability corr {p['corr']:.3f}")
    robust = queue_robustness(args.cells, n_other, seeds, {"clean": c, "sparse": s, "pool": p})
    out = {
        "ds_accuracy": round(t["acc"]["ds"], 4), "mv_accuracy": round(t["acc"]["mv"], 4),
        "reliability_corr": round(p["corr"], 4), "errors_in_top10pct": round(t["top10"], 4),
        "random_top10pct": round(t["random10"], 4), "rebuild_s": round(t["rebuild_s"], 2),
        "rebuild_cpu_s": round(t["rebuild_cpu_s"], 2), "oracle_top10pct": round(t["oracle"], 4),
        "build_consensus_s": round(t["build_s"], 2), "errors_in_top10pct_without_model": round(t["top10_no_model"], 4),
        "ds_accuracy_real_cells": round(t["acc"]["ds_real_cells"], 4),
        "mv_accuracy_real_cells": round(t["acc"]["mv_real_cells"], 4),
        "n_cells": n_trio, "n_clusters": t["acc"]["n_clusters"], "n_labels": t["n_labels"], "n_queue": t["n_queue"],
        "em_iterations": t["iterations"], "cell_source": source, "n_classes": len(prior),
        "sparse_ds_accuracy": round(s["acc"]["ds"], 4), "sparse_mv_accuracy": round(s["acc"]["mv"], 4),
        "sparse_errors_in_top10pct": round(s["top10"], 4), "sparse_random_top10pct": round(s["random10"], 4),
        "clean_ds_accuracy": round(c["acc"]["ds"], 4), "clean_mv_accuracy": round(c["acc"]["mv"], 4),
        "clean_errors_in_top10pct": round(c["top10"], 4), "clean_random_top10pct": round(c["random10"], 4),
        "clean_consensus_error_rate": round(c["error_rate"], 4),
        "pool_reliability_spearman": round(p["spearman"], 4), "pool_true_reliability": p["true"],
        "pool_est_reliability": p["est"], "pool_ds_accuracy": round(p["acc"]["ds"], 4),
        "pool_mv_accuracy": round(p["acc"]["mv"], 4), "n_cells_sparse_pool": n_other,
        "pool_errors_in_top10pct": round(p["top10"], 4), "full_queue_s": round(t["full_queue_s"], 2),
        "stored_queue_items": MAX_QUEUE, **robust, **plat,
    }
    if args.json:
        print(json.dumps(out))
    else:
        for key, val in out.items():
            print(f"{key:40s} {val}")


if __name__ == "__main__":
    main()
