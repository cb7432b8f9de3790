"""Study runs: training configs, arms over retraining cycles, evaluation, corrective-learning and IF experiments."""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace

import numpy as np

from benchmarks.learning_lib.data import (
    ArrayReader,
    HeldOut,
    Task,
    instance_image,
    label_quality,
    label_tasks,
)
from mlbackend.engine.annotators import AnnotatorProfile
from mlbackend.engine.device import configure_threads
from mlbackend.engine.inference import PostConfig, predict_region
from mlbackend.engine.interactive import segment_click
from mlbackend.engine.metrics import aggregated_jaccard_index, class_f1, detection_f1, dice, panoptic_quality
from mlbackend.engine.nets import NetConfig
from mlbackend.engine.stain import AugmentConfig
from mlbackend.engine.synthetic.config import CLASSES
from mlbackend.engine.synthetic.scene import Scene
from mlbackend.engine.training import (
    CellClassifierConfig,
    CorrectiveConfig,
    ModelBundle,
    TargetConfig,
    TrainConfig,
    TrainingSample,
    train,
)
from mlbackend.engine.training.losses import LossWeights

log = logging.getLogger("learning")


def post_config(args: argparse.Namespace) -> PostConfig:
    return PostConfig(peak_threshold=0.3, min_distance_px=8, fg_threshold=0.5, max_radius_px=26.0,
                      work_scale=args.post_scale)


def evaluate(bundle: ModelBundle, region: HeldOut, args: argparse.Namespace, test_if: np.ndarray | None = None) -> dict:
    """Detection F1, class F1, Dice, AJI, PQ of the model on a held-out region, plus throughput."""
    res = predict_region(bundle, ArrayReader(region.rgb), tile_px=args.tile_px, overlap_px=64, batch_size=2,
                         post=post_config(args), min_tissue=0.0,
                         if_reader=None if test_if is None else ArrayReader(test_if))
    cells = res.cells
    gt = region.gt
    pxy = np.array([[c.x, c.y] for c in cells]).reshape(-1, 2)
    pcls = np.array([c.cls for c in cells], dtype=np.int64)
    radius = args.match_radius_um / args.mpp
    det = detection_f1(gt.xy, pxy, radius)
    cf = class_f1(gt.xy, gt.cls, pxy, pcls, radius, len(CLASSES))
    pred_inst = instance_image([np.array(c.polygon) for c in cells], *region.inst.shape)
    pq = panoptic_quality(region.inst, pred_inst)
    return {
        "detection_f1": round(det.f1, 4), "precision": round(det.precision, 4), "recall": round(det.recall, 4),
        "class_f1": round(cf.macro, 4), "per_class_f1": dict(zip(CLASSES, (round(f, 4) for f in cf.per_class))),
        "dice": round(dice(region.inst, pred_inst), 4),
        "aji": round(aggregated_jaccard_index(region.inst, pred_inst), 4),
        "pq": round(pq.pq, 4), "cells_true": len(gt), "cells_pred": len(cells),
        "infer_mpx_per_s": round(res.megapixels_per_second, 3),
        **_dense_only(bundle, region, args, test_if),
    }


def _dense_only(bundle: ModelBundle, region: HeldOut, args: argparse.Namespace, test_if: np.ndarray | None) -> dict:
    """Class F1 of the dense class head alone, for bundles that carry a crop classifier (diagnostic)."""
    if bundle.classifier is None:
        return {}
    row = evaluate(replace(bundle, classifier=None), region, args, test_if)
    return {"dense_head_class_f1": row["class_f1"], "dense_head_per_class_f1": row["per_class_f1"]}


def classifier_config(args: argparse.Namespace, clf_confidence: float | None = None) -> CellClassifierConfig:
    """The per-nucleus crop classifier of the study (``--clf-steps 0`` turns it off)."""
    return CellClassifierConfig(
        enabled=args.clf_steps > 0, crop_px=args.clf_crop, width=args.clf_width, steps=args.clf_steps,
        finetune_steps=args.clf_finetune_steps, batch_size=args.clf_batch, mix=args.clf_mix, tta=args.clf_tta,
        correct_confidence=args.clf_correct_confidence if clf_confidence is None else clf_confidence,
        correct_steps=args.clf_correct_steps)


def train_config(args: argparse.Namespace, correction: bool, first: bool, if_channels: int = 0,
                 confidence: float | None = None, clf_confidence: float | None = None) -> TrainConfig:
    epochs = args.epochs_first if first else args.epochs_cycle
    clf = classifier_config(args, clf_confidence)
    return TrainConfig(
        class_names=CLASSES,
        net=NetConfig(num_classes=len(CLASSES), width=args.width, depth=3, stem_stride=2, if_channels=if_channels),
        targets=TargetConfig(sigma_px=4.0, known_radius_px=12.0, fg_radius_px=7.0, cls_radius_px=8.0, bg_radius_px=26.0),
        corrective=CorrectiveConfig(
            enabled=correction, start_epoch=max(1, int(round(epochs * args.correct_start))) if first else 1,
            every_epochs=2, snap_radius_px=args.snap_px,
            # with the crop classifier, classes are corrected by its out-of-fold models, not the dense head
            class_confidence=1.01 if clf.enabled else args.correct_confidence if confidence is None else confidence),
        augment=AugmentConfig(scale_range=(1 - args.scale_jitter, 1 + args.scale_jitter), hed_sigma=args.hed_jitter,
                              hed_bias=args.hed_jitter / 3, blur_prob=0.1, blur_sigma_max=0.8),
        loss=LossWeights(cls=args.cls_weight),
        post=post_config(args), classifier=clf,
        epochs=epochs, steps_per_epoch=args.steps, batch_size=args.batch, patch_px=args.patch,
        lr=args.lr if first else args.lr / 3, seed=args.seed, num_threads=args.threads,
    )


def run_arm(name: str, samples_by_cycle: list[list[TrainingSample]], args: argparse.Namespace, correction: bool,
            test: HeldOut, confidence: float | None = None,
            clf_confidence: float | None = None) -> tuple[list[dict], float, ModelBundle]:
    """Train through the cycles (warm start) and evaluate each cycle's model on the held-out region."""
    net = None
    rows, secs = [], []
    bundle = None
    for cycle, samples in enumerate(samples_by_cycle, start=1):
        cfg = train_config(args, correction, first=net is None, confidence=confidence, clf_confidence=clf_confidence)
        t0 = time.perf_counter()
        res = train(cfg, samples, init=net, init_classifier=bundle.classifier if bundle else None)
        net, bundle = res.bundle.net, res.bundle
        secs.append(res.seconds_per_epoch)
        row = {"arm": name, "cycle": cycle, "labels": sum(len(s.labels) for s in samples),
               **evaluate(bundle, test, args), "train_s_per_epoch": round(res.seconds_per_epoch, 2),
               "train_s": round(time.perf_counter() - t0, 1),
               "classifier": {k: round(v, 4) for k, v in res.extra.items()},
               "corrections": [vars(c) for c in res.corrections]}
        rows.append(row)
        log.info("%s cycle %d: %s (train %.0fs) corrections %s", name, cycle,
                 {k: row[k] for k in ("detection_f1", "class_f1", "pq")}, time.perf_counter() - t0, row["corrections"])
    assert bundle is not None
    return rows, float(np.mean(secs)), bundle


def interactive_timing(test: HeldOut, bundle: ModelBundle | None, n: int) -> dict:
    """p95 latency and mean Dice of click-to-outline on 256x256 crops of the held-out region."""
    out = {}
    rgb, gt = test.rgb, test.gt
    for name, net in (("classical", None), ("model", bundle.net if bundle else None)):
        if name == "model" and net is None:
            continue
        times, dices = [], []
        for i in range(min(n, len(gt))):
            cx, cy = gt.xy[i]
            x0 = int(np.clip(cx - 128, 0, rgb.shape[1] - 256))
            y0 = int(np.clip(cy - 128, 0, rgb.shape[0] - 256))
            r = segment_click(rgb[y0 : y0 + 256, x0 : x0 + 256], (float(cx - x0), float(cy - y0)), net=net)
            times.append(r.seconds)
            if len(r.polygon) >= 3:
                a = instance_image([np.array(r.polygon)], 256, 256)
                b = instance_image([gt.polygons[i] - [x0, y0]], 256, 256)
                dices.append(dice(a, b))
            else:
                dices.append(0.0)
        out[name] = {"p95_ms": round(1000 * float(np.percentile(times, 95)), 1), "mean_dice": round(float(np.mean(dices)), 4)}
    return out


def inference_speed(bundle: ModelBundle, test: HeldOut, args: argparse.Namespace) -> dict:
    """Megapixels/s of region inference (tiles, network, post-processing, stitching) with ``--infer-threads``."""
    threads = configure_threads(args.infer_threads)
    reader = ArrayReader(test.rgb)
    post = post_config(args)
    predict_region(bundle, reader, region=(0, 0, 512, 512), tile_px=args.tile_px, post=post)  # warm-up
    runs = [predict_region(bundle, reader, tile_px=args.tile_px, batch_size=2, post=post, min_tissue=0.0)
            for _ in range(3)]
    plain = [predict_region(replace(bundle, classifier=None), reader, tile_px=args.tile_px, batch_size=2, post=post,
                            min_tissue=0.0) for _ in range(3)] if bundle.classifier is not None else runs
    configure_threads(args.threads)
    best = max(r.megapixels_per_second for r in runs)
    return {"mpx_per_s": round(best, 3), "median_mpx_per_s": round(float(np.median([r.megapixels_per_second for r in runs])), 3),
            "threads": threads, "region_px": list(test.rgb.shape[:2]), "tile_px": args.tile_px,
            "net_width": bundle.net.config.width, "post_scale": args.post_scale,
            "with_crop_classifier": bundle.classifier is not None,
            "dense_only_mpx_per_s": round(max(r.megapixels_per_second for r in plain), 3),
            "load_average_1min": round(float(open("/proc/loadavg").read().split()[0]), 2)}


IF_CHANNELS = ("WT1", "CD31", "PDGFRB")


def if_arm(args: argparse.Namespace, tasks: list[Task], train_scene: Scene, test: HeldOut, test_scene: Scene,
           test_xy: tuple[int, int], lay: list[AnnotatorProfile]) -> dict:
    """One model on all lay labels that also sees the registered IF markers (what the overlay shows)."""
    def if_crop(scene: Scene, x: int, y: int, size: int) -> np.ndarray:
        return scene.render_if_in_he_frame(x, y, size, size, channels=IF_CHANNELS, dtype=np.uint8).transpose(1, 2, 0)

    samples = [replace(s, if_image=if_crop(train_scene, t.x, t.y, args.task_px))
               for t, s in zip(tasks, label_tasks(tasks, lay, args.seed + 1))]
    test_if = if_crop(test_scene, *test_xy, args.test_px)
    total = args.epochs_first + (args.cycles - 1) * args.epochs_cycle  # same budget as the final lay model
    cfg = replace(train_config(args, True, True, if_channels=len(IF_CHANNELS)), epochs=total)
    res = train(cfg, samples)
    row = evaluate(res.bundle, test, args, test_if=test_if)
    return {"lay_overlay_if_input": {"labels": sum(len(s.labels) for s in samples), **row,
                                     "train_s_per_epoch": round(res.seconds_per_epoch, 2)}}


def noise_experiment(args: argparse.Namespace, tasks: list[Task], lay: list[AnnotatorProfile], test: HeldOut,
                     val: HeldOut, radius: float) -> dict:
    """All lay labels with ``--noise`` class noise: corrective learning off, and on at each candidate confidence.

    With the crop classifier on, the candidates are the out-of-fold classifiers' confidence (the dense head does
    not re-class then); without it, the dense head's class confidence. The threshold is chosen by class F1 on ``val`` (a region of the TRAINING slide that no task
    overlaps); the held-out test slide only reports the chosen setting (all candidates are listed for reference).
    """
    noisy = label_tasks(tasks, [replace(p, class_error=args.noise) for p in lay], args.seed + 3)
    off_rows, _, off_bundle = run_arm("noise_no_correction", [noisy], args, False, test)
    candidates = {}
    for conf in args.correct_candidates:
        kw = {"clf_confidence": conf} if args.clf_steps > 0 else {"confidence": conf}
        rows, _, bundle = run_arm(f"noise_correction_{conf}", [noisy], args, True, test, **kw)
        candidates[conf] = {"val_class_f1": evaluate(bundle, val, args)["class_f1"], "test": rows[-1]}
    best = max(candidates, key=lambda c: candidates[c]["val_class_f1"])
    on = candidates[best]["test"]
    off = off_rows[-1]
    return {"class_noise": args.noise, "label_quality": label_quality(tasks, noisy, radius),
            "chosen_confidence": best, "val_class_f1_off": evaluate(off_bundle, val, args)["class_f1"],
            "candidates": {str(c): {"val_class_f1": v["val_class_f1"], "test_class_f1": v["test"]["class_f1"]}
                           for c, v in candidates.items()},
            "correction": on, "no_correction": off,
            "class_f1_gain": round(on["class_f1"] - off["class_f1"], 4),
            "detection_f1_gain": round(on["detection_f1"] - off["detection_f1"], 4)}
