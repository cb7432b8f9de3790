"""The frozen training configuration, serialisable to a plain dict for job records and checkpoints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mlbackend.engine.inference.postprocess import PostConfig
from mlbackend.engine.nets import NetConfig
from mlbackend.engine.stain.augment import AugmentConfig
from mlbackend.engine.training.cellclf import CellClassifierConfig
from mlbackend.engine.training.corrective import CorrectiveConfig
from mlbackend.engine.training.losses import LossWeights
from mlbackend.engine.training.selftrain import SelfTrainConfig
from mlbackend.engine.training.targets import TargetConfig


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``train`` needs besides the data; an epoch is ``steps_per_epoch`` batches."""

    class_names: tuple[str, ...] = ("podocyte", "endothelial", "mesangial")
    net: NetConfig = field(default_factory=NetConfig)
    targets: TargetConfig = field(default_factory=TargetConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    corrective: CorrectiveConfig = field(default_factory=CorrectiveConfig)
    self_training: SelfTrainConfig = field(default_factory=SelfTrainConfig)
    post: PostConfig = field(default_factory=PostConfig)
    classifier: CellClassifierConfig = field(default_factory=CellClassifierConfig)
    epochs: int = 20
    steps_per_epoch: int = 40
    batch_size: int = 8
    patch_px: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    device: str | None = None  # None: CUDA when available
    num_threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-safe)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of ``to_dict``; missing keys take defaults."""
        nested = {
            "net": NetConfig, "targets": TargetConfig, "augment": AugmentConfig, "loss": LossWeights,
            "corrective": CorrectiveConfig, "self_training": SelfTrainConfig, "post": PostConfig,
            "classifier": CellClassifierConfig,
        }
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in nested and isinstance(value, dict):
                sub = nested[key]
                value = sub(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in value.items() if k in sub.__dataclass_fields__})
            elif isinstance(value, list):
                value = tuple(value)
            if key in cls.__dataclass_fields__:
                kwargs[key] = value
        if "net" not in kwargs:
            kwargs["net"] = NetConfig(num_classes=len(kwargs.get("class_names", cls.class_names)))
        return cls(**kwargs)
