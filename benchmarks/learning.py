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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.learning_lib.data import (  # noqa: E402
    ground_truth,
    he_feature_ceiling,
    held_out,
    label_quality,
    label_tasks,
    make_tasks,
    pick_regions,
)
from benchmarks.learning_lib.runs import (  # noqa: E402
    evaluate,
    if_arm,
    inference_speed,
    interactive_timing,
    noise_experiment,
    run_arm,
    train_config,
)
from mlbackend.engine.annotators import expert_profiles, lay_profiles  # noqa: E402
from mlbackend.engine.device import configure_threads  # noqa: E402
from mlbackend.engine.nets import CellNet  # noqa: E402
from mlbackend.engine.synthetic.config import CLASSES  # noqa: E402
from mlbackend.engine.synthetic.scene import Scene  # noqa: E402
from mlbackend.engine.training import ModelBundle, load_checkpoint, save_checkpoint  # noqa: E402

log = logging.getLogger("learning")

__all__ = ["ground_truth", "main", "parse_args"]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--small", action="store_true", help="tiny CI version (about a minute on an idle machine)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--cycles", type=int, default=5)
    p.add_argument("--tasks-per-cycle", type=int, default=10)
    p.add_argument("--task-px", type=int, default=384)
    p.add_argument("--test-px", type=int, default=1024, help="held-out region side (on a different slide)")
    p.add_argument("--val-px", type=int, default=768, help="validation region side (training slide, no task overlaps)")
    p.add_argument("--slide-px", type=int, default=12000)
    p.add_argument("--mpp", type=float, default=0.25)
    p.add_argument("--he-fine-cues", type=float, default=1.0, help="strength of the fine per-class H&E cues (0: none)")
    p.add_argument("--match-radius-um", type=float, default=4.0)
    p.add_argument("--exhaustive-fraction", type=float, default=0.34, help="tasks labelled exhaustively")
    p.add_argument("--lay-coverage", type=float, default=0.6)
    p.add_argument("--lay-class-error", type=float, default=0.06)
    p.add_argument("--lay-click-sigma-px", type=float, default=3.0)
    p.add_argument("--lay-spurious", type=float, default=0.03)
    p.add_argument("--expert-coverage", type=float, default=0.6)
    p.add_argument("--expert-fallback", type=float, default=0.6, help="chance an expert classes from coarse morphology")
    p.add_argument("--expert-click-sigma-px", type=float, default=1.0)
    p.add_argument("--noise", type=float, default=0.25, help="class noise of the corrective-learning experiment")
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=15, help="steps per epoch")
    p.add_argument("--epochs-first", type=int, default=30)
    p.add_argument("--epochs-cycle", type=int, default=6)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--scale-jitter", type=float, default=0.04, help="size is a coarse class cue here: keep it mild")
    p.add_argument("--hed-jitter", type=float, default=0.02, help="so is haematoxylin density")
    p.add_argument("--cls-weight", type=float, default=3.0)
    p.add_argument("--snap-px", type=float, default=6.0)
    p.add_argument("--correct-confidence", type=float, default=0.7, help="class confidence of the cycle arms")
    p.add_argument("--correct-candidates", type=_floats, default=[0.6, 0.8],
                   help="confidences tried in the noise experiment (of the out-of-fold crop classifiers when the "
                        "classifier is on); chosen on the validation region")
    p.add_argument("--correct-start", type=float, default=0.5, help="first corrective pass, as a fraction of epochs")
    p.add_argument("--clf-steps", type=int, default=1000, help="crop classifier steps from scratch (0: no classifier)")
    p.add_argument("--clf-finetune-steps", type=int, default=300, help="crop classifier steps per later cycle")
    p.add_argument("--clf-crop", type=int, default=40, help="crop classifier input side (full-resolution px)")
    p.add_argument("--clf-width", type=int, default=8)
    p.add_argument("--clf-batch", type=int, default=64)
    p.add_argument("--clf-tta", type=int, default=2, help="crop classifier test-time rotations (1-4)")
    p.add_argument("--clf-mix", type=float, default=1.0, help="weight of the crop classifier vs the dense class head")
    p.add_argument("--clf-correct-confidence", type=float, default=0.0,
                   help="out-of-fold re-classing confidence in the cycle arms (0: off)")
    p.add_argument("--clf-correct-steps", type=int, default=500, help="steps of each out-of-fold crop classifier")
    p.add_argument("--noise-only", action="store_true", help="run only the corrective-learning noise experiment")
    p.add_argument("--tile-px", type=int, default=1024)
    p.add_argument("--post-scale", type=float, default=0.5, help="post-processing resolution (PostConfig.work_scale)")
    p.add_argument("--threads", type=int, default=None, help="torch threads for training (default: all cores)")
    p.add_argument("--infer-threads", type=int, default=2, help="torch threads for the inference speed test")
    p.add_argument("--speed-only", default="",
                   help="only re-measure inference speed of this saved checkpoint on the held-out region")
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
        **vars(args), "cycles": 2, "tasks_per_cycle": 2, "task_px": 256, "test_px": 320, "val_px": 256,
        "slide_px": 6000, "width": 8, "patch": 96, "batch": 4, "steps": 10, "epochs_first": 8, "epochs_cycle": 2,
        "tile_px": 320, "clicks": 3, "skip_noise": True,
        "clf_steps": 30, "clf_finetune_steps": 10, "clf_batch": 16, "clf_correct_steps": 10,
    })


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    configure_threads(args.threads)
    t_start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    scene_kw = {"width": args.slide_px, "height": args.slide_px, "mpp_he": args.mpp, "he_fine_cues": args.he_fine_cues}
    train_scene = Scene(seed=args.seed, **scene_kw)
    test_scene = Scene(seed=args.seed + 1000, **scene_kw)
    tasks = make_tasks(train_scene, args, rng)
    (tx, ty), = pick_regions(test_scene, 1, args.test_px, rng, min_cells=args.test_px**2 // 6000)
    test = held_out(test_scene, tx, ty, args.test_px)
    (vx, vy), = pick_regions(train_scene, 1, args.val_px, rng, min_cells=args.val_px**2 // 6000,
                             avoid=[(t.x, t.y, args.task_px) for t in tasks])
    val = held_out(train_scene, vx, vy, args.val_px)
    log.info("%d tasks, held-out region %d px with %d cells", len(tasks), args.test_px, len(test.gt))
    lay = lay_profiles(3, coverage=args.lay_coverage, class_error=args.lay_class_error,
                       click_sigma_px=args.lay_click_sigma_px, spurious_rate=args.lay_spurious)
    experts = expert_profiles(2, coverage=args.expert_coverage, morphology_fallback=args.expert_fallback,
                              click_sigma_px=args.expert_click_sigma_px)
    if args.if_arm_only:
        out = if_arm(args, tasks, train_scene, test, test_scene, (tx, ty), lay)
        print(json.dumps(out) if args.json else out)
        return out
    radius = args.match_radius_um / args.mpp
    if args.speed_only:
        out = {"inference": inference_speed(load_checkpoint(args.speed_only, device="cpu"), test, args)}
        print(json.dumps(out) if args.json else out)
        return out
    if args.noise_only:
        out = {"noise25": noise_experiment(args, tasks, lay, test, val, radius)}
        print(json.dumps(out) if args.json else out)
        return out
    arms_labels = {"lay": label_tasks(tasks, lay, args.seed + 1), "expert": label_tasks(tasks, experts, args.seed + 2)}
    quality = {k: label_quality(tasks, v, radius) for k, v in arms_labels.items()}
    per_cycle = {k: [v[: c * args.tasks_per_cycle] for c in range(1, args.cycles + 1)] for k, v in arms_labels.items()}
    untrained = evaluate(ModelBundle(net=CellNet(train_config(args, False, True).net).eval(), class_names=CLASSES),
                         test, args)
    results: dict[str, list[dict]] = {}
    secs: dict[str, float] = {}
    bundles: dict[str, ModelBundle] = {}
    for arm, key, corr in (("lay_overlay", "lay", True), ("expert_morphology", "expert", True),
                           ("lay_no_correction", "lay", False)):
        results[arm], secs[arm], bundles[arm] = run_arm(arm, per_cycle[key], args, corr, test)
    noise = None if args.skip_noise else noise_experiment(args, tasks, lay, test, val, radius)
    final = {arm: rows[-1] for arm, rows in results.items()}
    if args.save_dir:
        for arm, bundle in bundles.items():
            save_checkpoint(Path(args.save_dir) / f"{arm}.pt", bundle)
    infer = inference_speed(bundles["lay_overlay"], test, args)
    out = {
        **final,
        "cycles": [r for rows in results.values() for r in rows],
        "noise25": noise,
        "untrained": untrained,
        "infer_mpx_per_s": infer["mpx_per_s"],
        "inference": infer,
        "train_s_per_epoch": round(secs["lay_overlay"], 2),
        "interactive": interactive_timing(test, bundles["lay_overlay"], args.clicks),
        "label_quality": quality,
        "he_feature_ceiling_class_f1": he_feature_ceiling(train_scene, test_scene, fine=True),
        "he_coarse_ceiling_class_f1": he_feature_ceiling(train_scene, test_scene, fine=False),
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
