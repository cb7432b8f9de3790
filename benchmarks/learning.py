"""Learning study: models trained on simulated lay (IF overlay) vs expert (H&E only) labels, held-out slide.

Usage: python benchmarks/learning.py [--json] [--small] [options; see --help for every default]

Arms (same network, same training budget, evaluated on a different generated slide than they trained on):
  lay_overlay        3 lay annotators who see the IF overlay: right classes mostly, off-centre clicks,
                     partial coverage, spurious clicks, some slips; corrective learning ON
  lay_no_correction  the same labels with corrective learning OFF
  expert_morphology  2 experts without the overlay: precise clicks, classes judged from H&E morphology
  noise25            lay labels with 25% class noise, corrective learning ON vs OFF (last cycle only)
Labels accumulate over ``--cycles`` retraining cycles (each cycle adds ``--tasks-per-cycle`` task regions
and fine-tunes the previous cycle's model). Progress goes to stderr; with --json one JSON object to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mlbackend.engine.annotators import (  # noqa: E402
    AnnotatorProfile,
    GroundTruthCells,
    annotate_region,
    expert_profiles,
    lay_profiles,
    realised_error_rates,
)
from mlbackend.engine.device import configure_threads  # noqa: E402
from mlbackend.engine.inference import PostConfig, predict_region  # noqa: E402
from mlbackend.engine.interactive import segment_click  # noqa: E402
from mlbackend.engine.metrics import (  # noqa: E402
    aggregated_jaccard_index,
    class_f1,
    detection_f1,
    dice,
    panoptic_quality,
)
from mlbackend.engine.nets import CellNet, NetConfig  # noqa: E402
from mlbackend.engine.stain import AugmentConfig  # noqa: E402
from mlbackend.engine.synthetic.config import CLASSES  # noqa: E402
from mlbackend.engine.synthetic.scene import Scene  # noqa: E402
from mlbackend.engine.training import (  # noqa: E402
    CorrectiveConfig,
    ModelBundle,
    TargetConfig,
    TrainConfig,
    TrainingSample,
    save_checkpoint,
    train,
)
from mlbackend.engine.training.losses import LossWeights  # noqa: E402

log = logging.getLogger("learning")


@dataclass(frozen=True)
class Task:
    """One task region of the training slide with its rendered H&E and exact cells (crop coordinates)."""

    x: int
    y: int
    image: np.ndarray
    gt: GroundTruthCells
    exhaustive: bool


class ArrayReader:
    """A SlideReader over an in-memory level-0 image (the pre-rendered held-out region)."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.rgb = rgb

    @property
    def dimensions(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]

    def read_region(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        return self.rgb[y : y + h, x : x + w]


def ground_truth(scene: Scene, x: int, y: int, w: int, h: int) -> GroundTruthCells:
    """Exact cells whose centre lies in the box, in box coordinates."""
    b = scene.cell_batch_in(x, y, w, h)
    return GroundTruthCells(xy=np.c_[b.x - x, b.y - y], cls=b.cls.astype(np.int64), polygons=b.polygons() - [x, y])


def pick_regions(scene: Scene, n: int, size: int, rng: np.random.Generator, min_cells: int) -> list[tuple[int, int]]:
    """``n`` non-overlapping random boxes with at least ``min_cells`` cells (tissue, not glass)."""
    out: list[tuple[int, int]] = []
    for _ in range(200 * n):
        if len(out) == n:
            break
        x = int(rng.integers(0, scene.width - size))
        y = int(rng.integers(0, scene.height - size))
        if any(abs(x - a) < size and abs(y - b) < size for a, b in out):
            continue
        if len(scene.cell_batch_in(x, y, size, size)) >= min_cells:
            out.append((x, y))
    if len(out) < n:
        raise RuntimeError(f"found only {len(out)} of {n} tissue regions")
    return out


def make_tasks(scene: Scene, args: argparse.Namespace, rng: np.random.Generator) -> list[Task]:
    n = args.cycles * args.tasks_per_cycle
    boxes = pick_regions(scene, n, args.task_px, rng, min_cells=max(4, args.task_px**2 // 9000))
    return [
        Task(x, y, scene.render_he(x, y, args.task_px, args.task_px), ground_truth(scene, x, y, args.task_px, args.task_px),
             bool(rng.random() < args.exhaustive_fraction))
        for x, y in boxes
    ]


def label_tasks(tasks: list[Task], profiles: list[AnnotatorProfile], seed: int) -> list[TrainingSample]:
    """Each task labelled by one annotator (round-robin), sparse or exhaustive as the task says."""
    reference = GroundTruthCells(
        xy=np.concatenate([t.gt.xy for t in tasks]), cls=np.concatenate([t.gt.cls for t in tasks]),
        polygons=np.concatenate([t.gt.polygons for t in tasks]),
    )
    out = []
    for i, t in enumerate(tasks):
        rng = np.random.default_rng([seed, i])
        prof = profiles[i % len(profiles)]
        labels = annotate_region(t.gt, prof, rng, exhaustive=t.exhaustive, reference=reference,
                                 extent=(t.image.shape[1], t.image.shape[0]))
        out.append(TrainingSample(image=t.image, labels=labels, mode="exhaustive" if t.exhaustive else "sparse",
                                  sample_id=f"task{i}"))
    return out


def instance_image(polys: list[np.ndarray], h: int, w: int) -> np.ndarray:
    lab = np.zeros((h, w), np.int32)
    for i, p in enumerate(polys):
        cv2.fillPoly(lab, [np.round(np.asarray(p)).astype(np.int32).reshape(-1, 1, 2)], i + 1)
    return lab


def evaluate(bundle: ModelBundle, test_rgb: np.ndarray, gt: GroundTruthCells, gt_inst: np.ndarray,
             args: argparse.Namespace, post: PostConfig, test_if: np.ndarray | None = None) -> dict:
    """Detection F1, class F1, Dice, AJI, PQ of the model on the held-out region, plus throughput."""
    res = predict_region(bundle, ArrayReader(test_rgb), tile_px=args.tile_px, overlap_px=64, batch_size=2, post=post,
                         min_tissue=0.0, if_reader=None if test_if is None else ArrayReader(test_if))
    cells = res.cells
    pxy = np.array([[c.x, c.y] for c in cells]).reshape(-1, 2)
    pcls = np.array([c.cls for c in cells], dtype=np.int64)
    radius = args.match_radius_um / args.mpp
    det = detection_f1(gt.xy, pxy, radius)
    cf = class_f1(gt.xy, gt.cls, pxy, pcls, radius, len(CLASSES))
    pred_inst = instance_image([np.array(c.polygon) for c in cells], *gt_inst.shape)
    pq = panoptic_quality(gt_inst, pred_inst)
    return {
        "detection_f1": round(det.f1, 4), "precision": round(det.precision, 4), "recall": round(det.recall, 4),
        "class_f1": round(cf.macro, 4), "per_class_f1": dict(zip(CLASSES, (round(f, 4) for f in cf.per_class))),
        "dice": round(dice(gt_inst, pred_inst), 4), "aji": round(aggregated_jaccard_index(gt_inst, pred_inst), 4),
        "pq": round(pq.pq, 4), "cells_true": len(gt), "cells_pred": len(cells),
        "infer_mpx_per_s": round(res.megapixels_per_second, 3),
    }


def train_config(args: argparse.Namespace, correction: bool, first: bool, width: int, if_channels: int = 0) -> TrainConfig:
    epochs = args.epochs_first if first else args.epochs_cycle
    return TrainConfig(
        class_names=CLASSES,
        net=NetConfig(num_classes=len(CLASSES), width=width, depth=3, stem_stride=2, if_channels=if_channels),
        targets=TargetConfig(sigma_px=4.0, known_radius_px=12.0, fg_radius_px=7.0, cls_radius_px=8.0, bg_radius_px=26.0),
        corrective=CorrectiveConfig(enabled=correction, start_epoch=max(1, int(epochs * args.correct_start)) if first else 1,
                                    every_epochs=2,
                                    snap_radius_px=args.snap_px, class_confidence=args.correct_confidence),
        augment=AugmentConfig(scale_range=(1 - args.scale_jitter, 1 + args.scale_jitter), hed_sigma=args.hed_jitter,
                              hed_bias=args.hed_jitter / 3, blur_prob=0.1, blur_sigma_max=0.8),
        loss=LossWeights(cls=args.cls_weight),
        post=post_config(),
        epochs=epochs, steps_per_epoch=args.steps, batch_size=args.batch, patch_px=args.patch, lr=args.lr if first else args.lr / 3,
        seed=args.seed, num_threads=args.threads,
    )


def post_config() -> PostConfig:
    return PostConfig(peak_threshold=0.3, min_distance_px=8, fg_threshold=0.5, max_radius_px=26.0)


def run_arm(name: str, samples_by_cycle: list[list[TrainingSample]], args: argparse.Namespace, correction: bool,
            test: tuple, cycles: int | None = None) -> tuple[list[dict], float, ModelBundle]:
    """Train through the cycles (warm start) and evaluate each cycle's model on the held-out region."""
    net = None
    rows, secs = [], []
    bundle = None
    todo = list(enumerate(samples_by_cycle, start=1))
    if cycles is not None:
        todo = todo[-cycles:]
    for cycle, samples in todo:
        cfg = train_config(args, correction, first=net is None, width=args.width)
        t0 = time.perf_counter()
        res = train(cfg, samples, init=net)
        net, bundle = res.bundle.net, res.bundle
        secs.append(res.seconds_per_epoch)
        fixed = sum(c.relabelled + c.downweighted + c.moved for c in res.corrections[-1:])
        row = {"arm": name, "cycle": cycle, "labels": sum(len(s.labels) for s in samples),
               **evaluate(bundle, *test, args, cfg.post), "train_s_per_epoch": round(res.seconds_per_epoch, 2),
               "corrections_last_pass": fixed}
        rows.append(row)
        log.info("%s cycle %d: %s (train %.0fs)", name, cycle, {k: row[k] for k in ("detection_f1", "class_f1", "pq")},
                 time.perf_counter() - t0)
    assert bundle is not None
    return rows, float(np.mean(secs)), bundle


def interactive_timing(test_rgb: np.ndarray, gt: GroundTruthCells, bundle: ModelBundle | None, n: int) -> dict:
    """p95 latency and mean Dice of click-to-outline on 256x256 crops of the held-out region."""
    out = {}
    for name, net in (("classical", None), ("model", bundle.net if bundle else None)):
        if name == "model" and net is None:
            continue
        times, dices = [], []
        for i in range(min(n, len(gt))):
            cx, cy = gt.xy[i]
            x0 = int(np.clip(cx - 128, 0, test_rgb.shape[1] - 256))
            y0 = int(np.clip(cy - 128, 0, test_rgb.shape[0] - 256))
            crop = test_rgb[y0 : y0 + 256, x0 : x0 + 256]
            r = segment_click(crop, (float(cx - x0), float(cy - y0)), net=net)
            times.append(r.seconds)
            if len(r.polygon) >= 3:
                a = instance_image([np.array(r.polygon)], 256, 256)
                b = instance_image([gt.polygons[i] - [x0, y0]], 256, 256)
                dices.append(dice(a, b))
            else:
                dices.append(0.0)
        out[name] = {"p95_ms": round(1000 * float(np.percentile(times, 95)), 1), "mean_dice": round(float(np.mean(dices)), 4)}
    return out


def inference_speed(bundle: ModelBundle, test_rgb: np.ndarray, args: argparse.Namespace) -> dict:
    """Megapixels/s of region inference (tiles, network, post-processing, stitching) with ``--infer-threads``."""
    threads = configure_threads(args.infer_threads)
    reader = ArrayReader(test_rgb)
    predict_region(bundle, reader, region=(0, 0, 512, 512), tile_px=args.tile_px, post=post_config())  # warm-up
    runs = [predict_region(bundle, reader, tile_px=args.tile_px, batch_size=2, post=post_config(), min_tissue=0.0)
            for _ in range(2)]
    configure_threads(args.threads)
    best = max(r.megapixels_per_second for r in runs)
    return {"mpx_per_s": round(best, 3), "threads": threads, "region_px": list(test_rgb.shape[:2]),
            "tile_px": args.tile_px, "net_width": bundle.net.config.width}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--small", action="store_true", help="tiny CI version (< 2 min)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--cycles", type=int, default=5)
    p.add_argument("--tasks-per-cycle", type=int, default=6)
    p.add_argument("--task-px", type=int, default=256)
    p.add_argument("--test-px", type=int, default=1024, help="held-out region side (on a different slide)")
    p.add_argument("--slide-px", type=int, default=12000)
    p.add_argument("--mpp", type=float, default=0.25)
    p.add_argument("--match-radius-um", type=float, default=4.0)
    p.add_argument("--exhaustive-fraction", type=float, default=0.34, help="tasks labelled exhaustively")
    p.add_argument("--lay-coverage", type=float, default=0.6)
    p.add_argument("--lay-class-error", type=float, default=0.06)
    p.add_argument("--lay-click-sigma-px", type=float, default=3.0)
    p.add_argument("--lay-spurious", type=float, default=0.03)
    p.add_argument("--expert-coverage", type=float, default=0.6)
    p.add_argument("--expert-fallback", type=float, default=0.6, help="chance an expert classes from morphology")
    p.add_argument("--expert-click-sigma-px", type=float, default=1.0)
    p.add_argument("--noise", type=float, default=0.25, help="class noise of the corrective-learning experiment")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=20, help="steps per epoch")
    p.add_argument("--epochs-first", type=int, default=10)
    p.add_argument("--epochs-cycle", type=int, default=4)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--scale-jitter", type=float, default=0.04, help="size is a class cue here: keep it mild")
    p.add_argument("--hed-jitter", type=float, default=0.02, help="so is haematoxylin density")
    p.add_argument("--cls-weight", type=float, default=2.0)
    p.add_argument("--snap-px", type=float, default=6.0)
    p.add_argument("--correct-confidence", type=float, default=0.8)
    p.add_argument("--correct-start", type=float, default=0.33, help="first corrective pass, as a fraction of epochs")
    p.add_argument("--noise-only", action="store_true", help="run only the corrective-learning noise experiment")
    p.add_argument("--tile-px", type=int, default=512)
    p.add_argument("--threads", type=int, default=None, help="torch threads for training (default: all cores)")
    p.add_argument("--infer-threads", type=int, default=2, help="torch threads for the inference speed test")
    p.add_argument("--save-dir", default="", help="write each arm's final checkpoint here")
    p.add_argument("--clicks", type=int, default=40)
    p.add_argument("--skip-noise", action="store_true")
    p.add_argument("--if-arm-only", action="store_true",
                   help="instead of the study: one model with IF marker channels as extra input, on lay labels")
    args = p.parse_args(argv)
    if args.small:
        args = small_args(args)
    return args


def small_args(args: argparse.Namespace) -> argparse.Namespace:
    """The CI version: 2 cycles of 2 small tasks, a tiny network and a short schedule."""
    return argparse.Namespace(**{
        **vars(args), "cycles": 2, "tasks_per_cycle": 2, "task_px": 256, "test_px": 320, "slide_px": 6000,
        "width": 8, "patch": 96, "batch": 4, "steps": 10, "epochs_first": 8, "epochs_cycle": 2,
        "tile_px": 320, "clicks": 3, "skip_noise": True,
    })


def he_feature_ceiling(train_scene: Scene, test_scene: Scene) -> float:
    """Macro F1 of a Gaussian classifier on the generator's own H&E features (size, shape, stain, texture).

    The classes differ in H&E only through these features, so this approximates the best class F1 any
    H&E-only model could reach on this synthetic data.
    """
    def feats(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
        side = min(scene.width, scene.height, 6000)  # ~20k cells is plenty for a Gaussian classifier
        b = scene.cell_batch_in((scene.width - side) // 2, (scene.height - side) // 2, side, side)
        f = np.c_[b.radius, np.log(b.axis_a / b.axis_b), b.stain, b.texture, np.abs(b.harm_amp).sum(1)]
        return f, b.cls

    ftr, ytr = feats(train_scene)
    fte, yte = feats(test_scene)
    ll = []
    for k in range(len(CLASSES)):
        m, c = ftr[ytr == k].mean(0), np.cov(ftr[ytr == k].T)
        d = fte - m
        ll.append(-0.5 * np.einsum("ni,ij,nj->n", d, np.linalg.inv(c), d) - 0.5 * np.linalg.slogdet(c)[1])
    pred = np.argmax(np.stack(ll, 1), 1)
    f1 = [2 * ((pred == k) & (yte == k)).sum() / max((pred == k).sum() + (yte == k).sum(), 1) for k in range(len(CLASSES))]
    return round(float(np.mean(f1)), 4)


def label_quality(tasks: list[Task], samples: list[TrainingSample], radius: float) -> dict:
    stats = [realised_error_rates(t.gt, s.labels, radius) for t, s in zip(tasks, samples) if s.labels]
    return {k: round(float(np.nanmean([s[k] for s in stats])), 4) for k in ("class_error", "click_offset_px")} | {
        "labels": sum(len(s.labels) for s in samples), "cells_in_tasks": sum(len(t.gt) for t in tasks)}


IF_CHANNELS = ("WT1", "CD31", "PDGFRB")


def if_arm(args: argparse.Namespace, tasks: list[Task], train_scene: Scene, test: tuple, test_scene: Scene,
           test_xy: tuple[int, int], lay: list[AnnotatorProfile]) -> dict:
    """One model on all lay labels that also sees the registered IF markers (what the overlay shows)."""
    def if_crop(scene: Scene, x: int, y: int, size: int) -> np.ndarray:
        return scene.render_if_in_he_frame(x, y, size, size, channels=IF_CHANNELS, dtype=np.uint8).transpose(1, 2, 0)

    samples = [replace(s, if_image=if_crop(train_scene, t.x, t.y, args.task_px))
               for t, s in zip(tasks, label_tasks(tasks, lay, args.seed + 1))]
    test_if = if_crop(test_scene, *test_xy, args.test_px)
    total = args.epochs_first + (args.cycles - 1) * args.epochs_cycle  # same budget as the final lay model
    cfg = replace(train_config(args, True, True, args.width, if_channels=len(IF_CHANNELS)), epochs=total)
    res = train(cfg, samples)
    row = evaluate(res.bundle, *test, args, cfg.post, test_if=test_if)
    return {"lay_overlay_if_input": {"labels": sum(len(s.labels) for s in samples), **row,
                                     "train_s_per_epoch": round(res.seconds_per_epoch, 2)}}


def noise_experiment(args: argparse.Namespace, tasks: list[Task], lay: list[AnnotatorProfile], test: tuple,
                     radius: float) -> dict:
    """All lay labels with ``--noise`` class noise, trained with corrective learning on and off."""
    noisy = label_tasks(tasks, [replace(p, class_error=args.noise) for p in lay], args.seed + 3)
    on, _, _ = run_arm("noise_correction", [noisy], args, True, test)
    off, _, _ = run_arm("noise_no_correction", [noisy], args, False, test)
    return {"class_noise": args.noise, "label_quality": label_quality(tasks, noisy, radius),
            "correction": on[-1], "no_correction": off[-1],
            "class_f1_gain": round(on[-1]["class_f1"] - off[-1]["class_f1"], 4),
            "detection_f1_gain": round(on[-1]["detection_f1"] - off[-1]["detection_f1"], 4)}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    configure_threads(args.threads)
    t_start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    train_scene = Scene(width=args.slide_px, height=args.slide_px, seed=args.seed, mpp_he=args.mpp)
    test_scene = Scene(width=args.slide_px, height=args.slide_px, seed=args.seed + 1000, mpp_he=args.mpp)
    tasks = make_tasks(train_scene, args, rng)
    (tx, ty), = pick_regions(test_scene, 1, args.test_px, rng, min_cells=args.test_px**2 // 6000)
    test_rgb = test_scene.render_he(tx, ty, args.test_px, args.test_px)
    gt = ground_truth(test_scene, tx, ty, args.test_px, args.test_px)
    test = (test_rgb, gt, instance_image(list(gt.polygons), args.test_px, args.test_px))
    log.info("%d tasks, held-out region %d px with %d cells", len(tasks), args.test_px, len(gt))
    lay = lay_profiles(3, coverage=args.lay_coverage, class_error=args.lay_class_error,
                       click_sigma_px=args.lay_click_sigma_px, spurious_rate=args.lay_spurious)
    experts = expert_profiles(2, coverage=args.expert_coverage, morphology_fallback=args.expert_fallback,
                              click_sigma_px=args.expert_click_sigma_px)
    arms_labels = {"lay": label_tasks(tasks, lay, args.seed + 1), "expert": label_tasks(tasks, experts, args.seed + 2)}
    if args.if_arm_only:
        out = if_arm(args, tasks, train_scene, test, test_scene, (tx, ty), lay)
        print(json.dumps(out) if args.json else out)
        return out
    radius = args.match_radius_um / args.mpp
    if args.noise_only:
        out = {"noise25": noise_experiment(args, tasks, lay, test, radius)}
        print(json.dumps(out) if args.json else out)
        return out
    quality = {k: label_quality(tasks, v, radius) for k, v in arms_labels.items()}
    per_cycle = {k: [v[: c * args.tasks_per_cycle] for c in range(1, args.cycles + 1)] for k, v in arms_labels.items()}
    untrained_cfg = train_config(args, False, True, args.width)
    untrained = evaluate(ModelBundle(net=CellNet(untrained_cfg.net).eval(), class_names=CLASSES), *test, args, post_config())
    results: dict[str, list[dict]] = {}
    secs: dict[str, float] = {}
    bundles: dict[str, ModelBundle] = {}
    for arm, key, corr in (("lay_overlay", "lay", True), ("expert_morphology", "expert", True),
                           ("lay_no_correction", "lay", False)):
        results[arm], secs[arm], bundles[arm] = run_arm(arm, per_cycle[key], args, corr, test)
    noise = None if args.skip_noise else noise_experiment(args, tasks, lay, test, radius)
    final = {arm: rows[-1] for arm, rows in results.items()}
    if args.save_dir:
        for arm, bundle in bundles.items():
            save_checkpoint(Path(args.save_dir) / f"{arm}.pt", bundle)
    infer = inference_speed(bundles["lay_overlay"], test_rgb, args)
    out = {
        **final,
        "cycles": [r for rows in results.values() for r in rows],
        "noise25": noise,
        "untrained": untrained,
        "infer_mpx_per_s": infer["mpx_per_s"],
        "inference": infer,
        "train_s_per_epoch": round(secs["lay_overlay"], 2),
        "interactive": interactive_timing(test_rgb, gt, bundles["lay_overlay"], args.clicks),
        "label_quality": quality,
        "he_feature_ceiling_class_f1": he_feature_ceiling(train_scene, test_scene),
        "class_f1_gap_lay_minus_expert": round(final["lay_overlay"]["class_f1"] - final["expert_morphology"]["class_f1"], 4),
        "config": {k: v for k, v in vars(args).items() if k != "json"},
        "torch_threads": configure_threads(args.threads),
        "load_average_1min": round(float(Path("/proc/loadavg").read_text().split()[0]), 2),
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    if args.json:
        print(json.dumps(out))
    else:
        for arm in ("lay_overlay", "expert_morphology", "lay_no_correction"):
            r = out[arm]
            print(f"{arm:20s} det F1 {r['detection_f1']:.3f} class F1 {r['class_f1']:.3f} dice {r['dice']:.3f} "
                  f"AJI {r['aji']:.3f} PQ {r['pq']:.3f}")
        print(f"inference {out['infer_mpx_per_s']} Mpx/s, training {out['train_s_per_epoch']} s/epoch")
    return out


if __name__ == "__main__":
    main()
