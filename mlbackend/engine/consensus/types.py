"""Frozen data types crossing the consensus engine boundary (no Django)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Literal

LabelMode = Literal["exhaustive", "sparse"]
ClassKey = Hashable
Ring = tuple[tuple[float, float], ...]
CellStatus = Literal["cell", "no_cell", "unlabelled"]


@dataclass(frozen=True)
class AnnotatorLabel:
    """One annotator's label: a point (x, y) or a polygon ring, in level-0 px of the H&E slide."""

    label_id: Hashable
    annotator_id: Hashable
    class_key: ClassKey
    x: float
    y: float
    polygon: Ring | None = None
    created_at_s: float | None = None


@dataclass(frozen=True)
class ModelCell:
    """One model-detected cell; probabilities are (class_key, p) pairs when the model gives them."""

    x: float
    y: float
    class_key: ClassKey
    confidence: float = 1.0
    probabilities: tuple[tuple[ClassKey, float], ...] = ()
    polygon: Ring | None = None


@dataclass(frozen=True)
class TaskLabels:
    """Everything the engine needs about one task: mode, asked classes, who answered, labels, model cells.

    annotator_ids: everyone who submitted the task (in exhaustive mode an annotator with no label
    near a cell votes "no cell" there; annotators with labels are added automatically).
    Polygon labels carry their centroid in x, y (geometry.ring_centroid).
    """

    task_id: Hashable
    mode: LabelMode
    classes: tuple[ClassKey, ...]
    labels: tuple[AnnotatorLabel, ...]
    annotator_ids: tuple[Hashable, ...] = ()
    model_cells: tuple[ModelCell, ...] = ()
    mpp: float = 0.25


@dataclass(frozen=True)
class ConsensusConfig:
    """Matching and Dawid-Skene settings; radius in micrometres, pseudo-counts are Dirichlet/Beta priors."""

    radius_um: float = 4.0  # points match within this distance of a cluster centroid
    iou_threshold: float = 0.3  # polygons match when IoU with the cluster's reference polygon >= this
    max_iter: int = 100
    tol: float = 1e-4  # stop when no posterior moves more than this
    ll_tol: float = 1e-8  # ... or the log-likelihood changes less than this (relative)
    diag_pseudo: float = 2.0  # Dirichlet pseudo-count on "labelled the true class"
    offdiag_pseudo: float = 0.5  # ... on each wrong class
    miss_pseudo: float = 0.5  # Beta pseudo-counts of the exhaustive miss rate of a real cell
    hit_pseudo: float = 2.0
    class_pseudo: float = 1.0  # pseudo-count of each state in the class prior
    stray_coincidence: float = 0.05  # P(another annotator's stray click lands on the same spot)
    stray_shrinkage: float = 0.0  # pull per-annotator stray-click rates to the pooled rate
    tie_seed: int = 0  # majority-vote tie breaking


@dataclass(frozen=True)
class AnnotatorReliability:
    """Dawid-Skene estimate for one annotator."""

    annotator_id: Hashable
    reliability: float
    detection_rate: float | None
    n_labels: int
    confusion: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class ConsensusCell:
    """One cell cluster with its consensus; consensus_class is None unless status == 'cell'.

    status: 'cell', 'no_cell' (consensus says stray click / not an asked class) or 'unlabelled'
    (model-only cluster in a sparse task: nobody voted). class_posteriors lists every state, the
    no-cell state under the key None; posterior is the winning state's probability.
    """

    task_id: Hashable
    index: int
    status: CellStatus
    consensus_class: ClassKey | None
    posterior: float
    x: float
    y: float
    polygon: Ring | None
    label_ids: tuple[Hashable, ...]
    annotator_ids: tuple[Hashable, ...]
    label_classes: tuple[ClassKey, ...]
    missing_annotator_ids: tuple[Hashable, ...]
    mv_class: ClassKey | None
    model_class: ClassKey | None = None
    model_confidence: float | None = None
    class_posteriors: tuple[tuple[ClassKey | None, float], ...] = field(default=())


@dataclass(frozen=True)
class CompetingLabel:
    """One side of a disagreement: a class (None = no cell) and who backs it."""

    class_key: ClassKey | None
    source: Literal["annotators", "model"]
    annotator_ids: tuple[Hashable, ...]
    label_ids: tuple[Hashable, ...]
    posterior: float


@dataclass(frozen=True)
class CellDisagreement:
    """Disagreement scores of one cell cluster (all in [0, 1] except counts)."""

    task_id: Hashable
    index: int
    p_wrong: float
    entropy: float
    n_labels: int
    n_missing: int
    n_class_conflict: int
    extra: bool
    model_mismatch: bool
    model_only: bool
    model_missed: bool
    model_entropy: float | None
    model_conflict: float


@dataclass(frozen=True)
class TaskDisagreement:
    """Per-task summary of disagreement (means over the task's cell clusters)."""

    task_id: Hashable
    n_cells: int
    mean_p_wrong: float
    mean_entropy: float
    pairwise_agreement: float | None
    model_agreement: float | None
    mean_model_entropy: float | None
    n_conflicts: int


@dataclass(frozen=True)
class ReviewItem:
    """One review-queue entry: score = expected value of reviewing, reason codes and competing labels."""

    task_id: Hashable
    index: int
    score: float
    reason: str
    reasons: tuple[str, ...]
    x: float
    y: float
    competing: tuple[CompetingLabel, ...]
