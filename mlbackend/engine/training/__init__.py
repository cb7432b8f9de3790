"""Training from partial, noisy point/polygon labels: samples, targets, losses, corrective learning, ST++."""

from mlbackend.engine.training.cellclf import CellClassifierConfig
from mlbackend.engine.training.checkpoint import ModelBundle, load_checkpoint, save_checkpoint
from mlbackend.engine.training.config import TrainConfig
from mlbackend.engine.training.corrective import CorrectionStats, CorrectiveConfig
from mlbackend.engine.training.loop import TrainProgress, TrainResult, train
from mlbackend.engine.training.samples import Label, LabelMode, TrainingSample, apply_annotator_weights
from mlbackend.engine.training.selftrain import SelfTrainConfig
from mlbackend.engine.training.targets import TargetConfig, Targets, build_targets

__all__ = [
    "CellClassifierConfig",
    "CorrectionStats",
    "CorrectiveConfig",
    "Label",
    "LabelMode",
    "ModelBundle",
    "SelfTrainConfig",
    "TargetConfig",
    "Targets",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "TrainingSample",
    "apply_annotator_weights",
    "build_targets",
    "load_checkpoint",
    "save_checkpoint",
    "train",
]
