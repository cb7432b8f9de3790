"""Training pipeline: snapshot the labels, train on the worker (GPU when present), validate on held-out
tasks, write the checkpoint atomically, record the version, promote it only if it beats the current one."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction

from annotation.errors import InvalidInput, InvalidTransition
from annotation.models import Job
from annotation.selectors.training import project_class_names, training_label_count, training_regions
from annotation.services.jobs import job_create, job_fail, job_progress, job_start, job_succeed
from mlbackend.models import ModelVersion
from mlbackend.pipelines.samples import region_reference, region_sample, split_regions
from mlbackend.pipelines.validation import validate_bundle
from mlbackend.services import (
    model_version_create,
    model_version_fail,
    model_version_promote,
    model_version_record,
)

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = {"epochs": 12, "steps_per_epoch": 30, "batch_size": 8, "patch_px": 128}


@transaction.atomic
def training_enqueue(*, project_id: int, created_by=None, reason: str = "", config: dict | None = None) -> Job:
    """Create the training job and its model version; the task starts after commit (queue gpu)."""
    running = ModelVersion.objects.select_for_update().filter(project_id=project_id, status=ModelVersion.Status.TRAINING)
    if running.exists():
        raise InvalidTransition("A training run is already in progress for this project.", code="training_running")
    if training_label_count(project_id=project_id) == 0:
        raise InvalidInput("There are no labels to train on yet.", code="no_labels")
    merged = {**DEFAULT_CONFIG, **(config or {})}
    job = job_create(kind=Job.Kind.TRAINING, project_id=project_id, target={"config": merged}, created_by=created_by,
                     message=reason or "queued")
    version = model_version_create(project_id=project_id, config=merged, created_by=created_by, job_id=job.id)
    job.target = {**job.target, "model_version_id": version.id}
    job.save(update_fields=["target"])
    from mlbackend.tasks import train_model

    transaction.on_commit(lambda: train_model.delay(str(job.id)))
    return job


def _snapshot(train, val, class_names: list[str]) -> dict:
    counts = Counter()
    sources = Counter()
    for region in train + val:
        for lab in region.labels:
            counts[lab.class_name] += 1
            sources[lab.source] += 1
    return {
        "classes": class_names,
        "labels_per_class": dict(counts),
        "labels_per_source": dict(sources),
        "train_tasks": [r.task_id for r in train],
        "validation_tasks": [r.task_id for r in val],
    }


def _train_config(version: ModelVersion, class_names: list[str]):
    from mlbackend.engine.training.config import TrainConfig

    data = {**version.config, "class_names": class_names}
    return TrainConfig.from_dict(data)


def training_run(*, job_id: str) -> ModelVersion | None:
    """Run one training job end to end (idempotent: a finished job or version is left alone)."""
    job = job_start(job_id=job_id)
    if job is None:
        return None
    version = ModelVersion.objects.filter(id=job.target.get("model_version_id")).first()
    if version is None or version.status != ModelVersion.Status.TRAINING:
        job_succeed(job_id=job_id, result={"skipped": "version already finished"})
        return version
    try:
        return _train(job, version)
    except Exception as exc:
        logger.exception("training job %s failed", job_id)
        model_version_fail(version_id=version.id, reason=f"{type(exc).__name__}: {exc}")
        job_fail(job_id=job_id, error=f"training failed ({type(exc).__name__}: {exc})")
        return None


def _train(job: Job, version: ModelVersion) -> ModelVersion:
    from mlbackend.engine.training.checkpoint import save_checkpoint
    from mlbackend.engine.training.loop import train

    project_id = version.project_id
    class_names = project_class_names(project_id=project_id)
    regions = training_regions(project_id=project_id)
    train_regions, val_regions = split_regions(regions)
    if not train_regions:
        raise InvalidInput("No labelled task to train on.")
    job_progress(job_id=str(job.id), progress=0.02, message=f"reading {len(train_regions)} training regions")
    samples = [region_sample(r, class_names) for r in train_regions]
    cfg = _train_config(version, class_names)
    started = time.monotonic()

    def progress(p) -> None:
        job_progress(job_id=str(job.id), progress=0.05 + 0.8 * p.epoch / max(p.epochs, 1),
                     message=f"epoch {p.epoch}/{p.epochs} loss {p.loss:.4f}")

    result = train(cfg, samples, progress, annotator_weights=_annotator_weights(project_id))
    job_progress(job_id=str(job.id), progress=0.87, message="validating on held-out tasks")
    references = [region_reference(r, class_names) for r in val_regions]
    metrics = validate_bundle(result.bundle, references, class_names)
    metrics.update(train_seconds=round(time.monotonic() - started, 2), seconds_per_epoch=round(result.seconds_per_epoch, 3))
    path = Path(settings.VAR_DIR) / "models" / str(project_id) / f"v{version.number}.pt"
    save_checkpoint(path, result.bundle)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    curves = [{"epoch": i + 1, "loss": round(float(loss), 5)} for i, loss in enumerate(result.losses)]
    labels = sum(len(r.labels) for r in regions)
    version = model_version_record(
        version_id=version.id, checkpoint_path=str(path), checkpoint_sha=sha, metrics=metrics, curves=curves,
        snapshot=_snapshot(train_regions, val_regions, class_names), labels_at_training=labels,
    )
    promoted = _maybe_promote(version)
    job_succeed(job_id=str(job.id), result={"model_version": version.id, "number": version.number, "metrics": metrics,
                                            "promoted": promoted})
    return version


def _annotator_weights(project_id: int) -> dict[str, float]:
    """Per-annotator reliabilities from the latest consensus (1.0 for everyone until there is one)."""
    try:
        from annotation.selectors.consensus import annotator_reliabilities
    except ImportError:
        return {}
    return {str(k): float(v) for k, v in annotator_reliabilities(project_id=project_id).items()}


def _maybe_promote(version: ModelVersion) -> bool:
    try:
        model_version_promote(version_id=version.id, actor=None, force=False)
    except InvalidTransition as exc:
        logger.info("version %s not promoted: %s", version.number, exc)
        return False
    from mlbackend.pipelines.inference import preannotate_enqueue

    transaction.on_commit(lambda: preannotate_enqueue(project_id=version.project_id, version_id=version.id))
    return True


def metrics_summary(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")
