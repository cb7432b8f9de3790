"""Active-learning priority of tasks from model uncertainty and disagreement.

priority = w_uncertainty * U + w_disagreement * D + w_model * M, with (defaults 0.5, 0.3, 0.2)
  U  mean normalised entropy of the model's class probabilities over the task's model cells
  D  mean P(consensus wrong) over the task's labelled clusters (0 if nothing is labelled yet)
  M  1 - model agreement with consensus (share of judged cells where model and consensus differ)
All terms are in [0, 1], so the priority is too. Unlabelled tasks rank by U alone: that is where
the model learns most from a first label; labelled tasks add what reviewers would fix.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from mlbackend.engine.consensus.build import ConsensusResult
from mlbackend.engine.consensus.disagreement import task_disagreements


@dataclass(frozen=True)
class PriorityWeights:
    """Weights of the three priority terms."""

    uncertainty: float = 0.5
    disagreement: float = 0.3
    model: float = 0.2


@dataclass(frozen=True)
class TaskPriority:
    """Active-learning priority of one task with its terms."""

    task_id: Hashable
    priority: float
    uncertainty: float
    disagreement: float
    model_disagreement: float


def task_priorities(result: ConsensusResult, weights: PriorityWeights | None = None) -> tuple[TaskPriority, ...]:
    """Priority per task, highest first (ties keep task order)."""
    w = weights or PriorityWeights()
    out = []
    for t in task_disagreements(result):
        u = t.mean_model_entropy or 0.0
        d = t.mean_p_wrong
        m = 1.0 - t.model_agreement if t.model_agreement is not None else 0.0
        out.append(TaskPriority(task_id=t.task_id, priority=w.uncertainty * u + w.disagreement * d + w.model * m,
                                uncertainty=u, disagreement=d, model_disagreement=m))
    return tuple(sorted(out, key=lambda p: -p.priority))
