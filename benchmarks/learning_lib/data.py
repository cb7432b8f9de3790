"""Study data: task regions of the training slide, simulated labels, the held-out region, label quality."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import cv2
import numpy as np

from mlbackend.engine.annotators import (
    AnnotatorProfile,
    GroundTruthCells,
    annotate_region,
    realised_error_rates,
)
from mlbackend.engine.synthetic.config import CLASSES
from mlbackend.engine.synthetic.scene import Scene
from mlbackend.engine.training import TrainingSample


@dataclass(frozen=True)
class Task:
    """One task region of the training slide with its rendered H&E and exact cells (crop coordinates)."""

    x: int
    y: int
    image: np.ndarray
    gt: GroundTruthCells
    exhaustive: bool


@dataclass(frozen=True)
class HeldOut:
    """A region with exact truth that no training task overlaps: the test region or a validation region."""

    rgb: np.ndarray
    gt: GroundTruthCells
    inst: np.ndarray  # instance image of the true outlines


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


def instance_image(polys: list[np.ndarray], h: int, w: int) -> np.ndarray:
    lab = np.zeros((h, w), np.int32)
    for i, p in enumerate(polys):
        cv2.fillPoly(lab, [np.round(np.asarray(p)).astype(np.int32).reshape(-1, 1, 2)], i + 1)
    return lab


def held_out(scene: Scene, x: int, y: int, size: int) -> HeldOut:
    gt = ground_truth(scene, x, y, size, size)
    return HeldOut(scene.render_he(x, y, size, size), gt, instance_image(list(gt.polygons), size, size))


def pick_regions(scene: Scene, n: int, size: int, rng: np.random.Generator, min_cells: int,
                 avoid: list[tuple[int, int, int]] | None = None) -> list[tuple[int, int]]:
    """``n`` non-overlapping random boxes with at least ``min_cells`` cells, clear of ``avoid`` (x, y, size)."""
    out: list[tuple[int, int]] = []
    taken = list(avoid or [])
    for _ in range(200 * n):
        if len(out) == n:
            break
        x = int(rng.integers(0, scene.width - size))
        y = int(rng.integers(0, scene.height - size))
        if any(x < a + s and a < x + size and y < b + s and b < y + size for a, b, s in taken):
            continue
        if len(scene.cell_batch_in(x, y, size, size)) >= min_cells:
            out.append((x, y))
            taken.append((x, y, size))
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


def label_quality(tasks: list[Task], samples: list[TrainingSample], radius: float) -> dict:
    stats = [realised_error_rates(t.gt, s.labels, radius) for t, s in zip(tasks, samples) if s.labels]
    return {k: round(float(np.nanmean([s[k] for s in stats])), 4) for k in ("class_error", "click_offset_px")} | {
        "labels": sum(len(s.labels) for s in samples), "cells_in_tasks": sum(len(t.gt) for t in tasks)}


def _scene_features(scene: Scene, fine: bool) -> tuple[np.ndarray, np.ndarray]:
    side = min(scene.width, scene.height, 6000)  # ~20k cells is plenty for a Gaussian classifier
    b = scene.cell_batch_in((scene.width - side) // 2, (scene.height - side) // 2, side, side)
    f = np.c_[b.radius, np.log(b.axis_a / b.axis_b), b.stain, b.texture, np.abs(b.harm_amp).sum(1)]
    return (np.c_[f, b.cues] if fine else f), b.cls


def he_feature_ceiling(train_scene: Scene, test_scene: Scene, fine: bool = True) -> float:
    """Macro F1 of a Gaussian classifier on the generator's own per-cell H&E features.

    ``fine=False``: the coarse cues only (size, elongation, stain, texture, outline irregularity), about what
    the simulated experts judge by. ``fine=True`` adds the fine nuclear cues (nucleolus, chromatin clumping,
    rim margination). The classes differ in H&E only through these, so this approximates the best class
    F1 an H&E-only model could reach on this synthetic data.
    """
    ftr, ytr = _scene_features(train_scene, fine)
    fte, yte = _scene_features(test_scene, fine)
    ll = []
    for k in range(len(CLASSES)):
        m, c = ftr[ytr == k].mean(0), np.cov(ftr[ytr == k].T) + 1e-9 * np.eye(ftr.shape[1])
        d = fte - m
        ll.append(-0.5 * np.einsum("ni,ij,nj->n", d, np.linalg.inv(c), d) - 0.5 * np.linalg.slogdet(c)[1])
    pred = np.argmax(np.stack(ll, 1), 1)
    f1 = [2 * ((pred == k) & (yte == k)).sum() / max((pred == k).sum() + (yte == k).sum(), 1) for k in range(len(CLASSES))]
    return round(float(np.mean(f1)), 4)
