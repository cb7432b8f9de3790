"""Simulated annotators: coverage, click offsets, spurious clicks and class errors of lay people and experts.

A lay annotator WITH the IF overlay reads the marker, so class errors are mostly careless and random
(``class_error``). An expert WITHOUT the overlay classes from H&E morphology: with probability
``morphology_fallback`` the cell is not recognisable from context and the expert picks the class whose typical
size and elongation are closest to what they see, plus perception noise. Those errors are systematic (the
same atypical-looking cells are always misread), which is what makes them hard to learn away.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mlbackend.engine.training.samples import Label


@dataclass(frozen=True)
class GroundTruthCells:
    """Exact cells of a region: centres (N, 2), class indices (N,), outlines (N, V, 2); same pixel frame."""

    xy: np.ndarray
    cls: np.ndarray
    polygons: np.ndarray

    def __len__(self) -> int:
        return len(self.cls)

    def shifted(self, dx: float, dy: float) -> GroundTruthCells:
        """The same cells with coordinates moved by (dx, dy)."""
        d = np.array([dx, dy])
        return replace(self, xy=self.xy + d, polygons=self.polygons + d)

    def morphology(self) -> np.ndarray:
        """(N, 2) H&E-visible features: equivalent radius and log aspect ratio of each outline."""
        p = self.polygons - self.polygons.mean(axis=1, keepdims=True)
        x, y = p[..., 0], p[..., 1]
        area = 0.5 * np.abs((x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1))
        cov = np.einsum("nvi,nvj->nij", p, p) / p.shape[1]
        ev = np.linalg.eigvalsh(cov)
        aspect = 0.5 * np.log(np.maximum(ev[:, 1], 1e-9) / np.maximum(ev[:, 0], 1e-9))
        return np.stack([np.sqrt(area / np.pi), aspect], axis=1)


@dataclass(frozen=True)
class AnnotatorProfile:
    """How one simulated annotator behaves; rates are probabilities per cell unless stated."""

    name: str
    sees_overlay: bool
    coverage: float = 0.6  # fraction of cells labelled in a sparse task
    miss_rate: float = 0.05  # cells overlooked in an exhaustive task
    click_sigma_px: float = 3.0  # click offset from the true centre (per axis, Gaussian)
    class_error: float = 0.05  # random wrong class (slips, dim or cross-talking markers)
    morphology_fallback: float = 0.0  # expert: chance of classing from morphology alone
    perception_noise: float = 0.6  # expert: noise on the morphology judgement (in feature SDs)
    spurious_rate: float = 0.02  # clicks on no cell, per labelled cell
    polygon_fraction: float = 0.1  # labels drawn as outlines rather than clicks
    outline_jitter_px: float = 1.0


def lay_profiles(n: int = 3, **overrides: float) -> list[AnnotatorProfile]:
    """``n`` lay annotators with the IF overlay (defaults documented in docs/benchmarks/learning.md)."""
    base = AnnotatorProfile(name="lay", sees_overlay=True)
    return [replace(base, name=f"lay{i + 1}", **overrides) for i in range(n)]


def expert_profiles(n: int = 2, **overrides: float) -> list[AnnotatorProfile]:
    """``n`` experts without the overlay: precise clicks, morphology-based classes."""
    base = AnnotatorProfile(
        name="expert", sees_overlay=False, coverage=0.6, miss_rate=0.02, click_sigma_px=1.0, class_error=0.02,
        morphology_fallback=0.6, spurious_rate=0.0, polygon_fraction=0.2, outline_jitter_px=0.5,
    )
    return [replace(base, name=f"expert{i + 1}", **overrides) for i in range(n)]


def _morphology_guess(gt: GroundTruthCells, reference: GroundTruthCells, noise: float, rng: np.random.Generator) -> np.ndarray:
    feats = gt.morphology()
    ref = reference.morphology()
    sd = ref.std(axis=0) + 1e-9
    classes = np.unique(reference.cls)
    means = np.stack([ref[reference.cls == k].mean(axis=0) for k in classes])
    seen = feats / sd + rng.normal(0.0, noise, feats.shape)
    d = ((seen[:, None, :] - (means / sd)[None]) ** 2).sum(axis=2)
    return classes[np.argmin(d, axis=1)]


def annotate_region(
    gt: GroundTruthCells,
    profile: AnnotatorProfile,
    rng: np.random.Generator,
    *,
    exhaustive: bool = False,
    num_classes: int = 3,
    reference: GroundTruthCells | None = None,
    extent: tuple[float, float] | None = None,
) -> tuple[Label, ...]:
    """Labels one annotator gives for the cells of one task region (``extent`` = region (w, h) for spurious clicks)."""
    n = len(gt)
    keep = rng.random(n) >= profile.miss_rate if exhaustive else rng.random(n) < profile.coverage
    idx = np.flatnonzero(keep)
    cls = gt.cls[idx].copy()
    if profile.morphology_fallback > 0:
        fallback = rng.random(len(idx)) < profile.morphology_fallback
        guess = _morphology_guess(gt, reference or gt, profile.perception_noise, rng)[idx]
        cls = np.where(fallback, guess, cls)
    slip = rng.random(len(idx)) < profile.class_error
    cls = np.where(slip, (cls + rng.integers(1, num_classes, len(idx))) % num_classes, cls)
    labels = []
    for j, i in enumerate(idx):
        dx, dy = rng.normal(0.0, profile.click_sigma_px, 2)
        poly: tuple[tuple[float, float], ...] = ()
        if rng.random() < profile.polygon_fraction:
            p = gt.polygons[i] + rng.normal(0.0, profile.outline_jitter_px, gt.polygons[i].shape)
            poly = tuple(map(tuple, p.tolist()))
        labels.append(Label(x=float(gt.xy[i, 0] + dx), y=float(gt.xy[i, 1] + dy), cls=int(cls[j]), polygon=poly,
                            annotator=profile.name))
    if extent is not None and profile.spurious_rate > 0:
        for _ in range(rng.poisson(profile.spurious_rate * max(len(idx), 1))):
            labels.append(Label(x=float(rng.uniform(0, extent[0])), y=float(rng.uniform(0, extent[1])),
                                cls=int(rng.integers(0, num_classes)), annotator=profile.name))
    return tuple(labels)


def realised_error_rates(gt: GroundTruthCells, labels: tuple[Label, ...], radius_px: float) -> dict[str, float]:
    """Class error rate and mean click offset of labels matched to ground truth within ``radius_px``."""
    from mlbackend.engine.metrics import match_points

    xy = np.array([[lab.x, lab.y] for lab in labels]).reshape(-1, 2)
    pairs = match_points(gt.xy, xy, radius_px)
    if not pairs:
        return {"class_error": float("nan"), "click_offset_px": float("nan"), "matched": 0.0}
    wrong = np.mean([gt.cls[i] != labels[j].cls for i, j in pairs])
    off = np.mean([np.hypot(*(gt.xy[i] - xy[j])) for i, j in pairs])
    return {"class_error": float(wrong), "click_offset_px": float(off), "matched": float(len(pairs) / max(len(labels), 1))}
