"""Consensus, disagreement and review-queue maths for cell labels from k lay annotators (no Django).

Typical use::

    result = build_consensus(tasks, config=ConsensusConfig(radius_um=4.0))
    cells = consensus_cells(result)          # one ConsensusCell per cell cluster
    queue = review_queue(result)             # ReviewItem list, best review first
    per_task = task_disagreements(result)
    priorities = task_priorities(result)
"""

from mlbackend.engine.consensus.build import ConsensusArrays, ConsensusResult, build_consensus
from mlbackend.engine.consensus.cells import ConsensusLabels, consensus_cells, consensus_labels
from mlbackend.engine.consensus.disagreement import (
    cell_disagreements,
    disagreement_arrays,
    task_disagreements,
)
from mlbackend.engine.consensus.model_evidence import ModelEvidence, model_evidence
from mlbackend.engine.consensus.priority import PriorityWeights, TaskPriority, task_priorities
from mlbackend.engine.consensus.quality import (
    ConsensusAgreement,
    GoldCell,
    GoldScore,
    LabellingSpeed,
    consensus_agreement,
    gold_scores,
    labelling_speed,
)
from mlbackend.engine.consensus.review import ReviewConfig, review_order, review_queue, review_scores
from mlbackend.engine.consensus.types import (
    AnnotatorLabel,
    AnnotatorReliability,
    CellDisagreement,
    CompetingLabel,
    ConsensusCell,
    ConsensusConfig,
    ModelCell,
    ReviewItem,
    TaskDisagreement,
    TaskLabels,
)

__all__ = [
    "AnnotatorLabel", "AnnotatorReliability", "CellDisagreement", "CompetingLabel", "ConsensusAgreement",
    "ConsensusArrays", "ConsensusCell", "ConsensusLabels", "ConsensusConfig", "ConsensusResult", "GoldCell", "GoldScore",
    "LabellingSpeed", "ModelCell", "ModelEvidence", "PriorityWeights", "ReviewConfig", "ReviewItem", "TaskDisagreement",
    "TaskLabels", "TaskPriority", "build_consensus", "cell_disagreements", "consensus_agreement",
    "consensus_cells", "consensus_labels", "disagreement_arrays", "gold_scores", "labelling_speed", "model_evidence", "review_order",
    "review_queue", "review_scores", "task_disagreements", "task_priorities",
]
