"""Model bundles (network + config + class names) and their atomic checkpoint files."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mlbackend.engine.device import pick_device
from mlbackend.engine.nets import CellNet, NetConfig
from mlbackend.engine.nets.cropnet import CropNet, CropNetConfig

FORMAT_VERSION = 1  # the optional "classifier" entry was added without a bump: older files load without it


@dataclass(frozen=True)
class ModelBundle:
    """A trained network with what is needed to use it: class names, training config, optional crop classifier.

    ``classifier`` (a second-stage per-nucleus CNN) classifies each detected cell from a crop around its centre;
    without it the class comes from the dense class head.
    """

    net: CellNet
    class_names: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict)  # TrainConfig.to_dict(), for provenance
    metrics: dict[str, Any] = field(default_factory=dict)
    classifier: CropNet | None = None


def save_checkpoint(path: str | Path, bundle: ModelBundle) -> Path:
    """Write the bundle to ``path`` atomically (temporary file in the same folder, then os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format_version": FORMAT_VERSION,
        "net_config": bundle.net.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in bundle.net.state_dict().items()},
        "class_names": list(bundle.class_names),
        "config": bundle.config,
        "metrics": bundle.metrics,
        "classifier": None if bundle.classifier is None else {
            "config": bundle.classifier.config.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in bundle.classifier.state_dict().items()},
        },
    }
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, device: torch.device | str | None = None) -> ModelBundle:
    """Load a bundle written by ``save_checkpoint`` onto ``device`` (default: CUDA if present), in eval mode."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"unsupported checkpoint format {payload.get('format_version')!r}")
    net = CellNet(NetConfig.from_dict(payload["net_config"]))
    net.load_state_dict(payload["state_dict"])
    dev = torch.device(device) if device else pick_device()
    net.to(dev).eval()
    classifier = None
    if payload.get("classifier"):
        classifier = CropNet(CropNetConfig.from_dict(payload["classifier"]["config"]))
        classifier.load_state_dict(payload["classifier"]["state_dict"])
        classifier.to(dev).eval()
        if classifier.config.num_classes != len(payload["class_names"]):
            raise ValueError("checkpoint classifier does not match the class names")
    return ModelBundle(
        net=net, class_names=tuple(payload["class_names"]), config=payload["config"], metrics=payload["metrics"],
        classifier=classifier,
    )
