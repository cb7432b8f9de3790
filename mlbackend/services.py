"""ML backend services: model versions (create, record, fail, promote, roll back) and the retraining check.

Each status change of a ModelVersion happens here and nowhere else; promotions leave an audit row.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotation.errors import InvalidTransition, NotFound
from annotation.events import STAFF_GROUP, broadcast, project_group
from annotation.models import AuditEvent, Project
from mlbackend.models import ModelVersion

logger = logging.getLogger(__name__)

# validation metric that decides promotion; higher is better
PRIMARY_METRIC = "score"  # detection F1 on exhaustive held-out tasks, else label recall


def version_payload(version: ModelVersion) -> dict:
    return {
        "id": version.id,
        "project": version.project_id,
        "number": version.number,
        "status": version.status,
        "metrics": version.metrics,
        "created_at": version.created_at.isoformat() if version.created_at else None,
    }


def _push(version: ModelVersion, event: str) -> None:
    broadcast([STAFF_GROUP, project_group(version.project_id)], event, version_payload(version))


@transaction.atomic
def model_version_create(*, project_id: int, config: dict, created_by=None, job_id=None) -> ModelVersion:
    """Reserve the next version number for a training run (status training)."""
    Project.objects.select_for_update().filter(id=project_id).first()
    number = (ModelVersion.objects.filter(project_id=project_id).aggregate(m=Max("number"))["m"] or 0) + 1
    current = model_version_current(project_id=project_id)
    version = ModelVersion.objects.create(
        project_id=project_id, number=number, config=config, created_by=created_by, job_id=job_id, parent=current
    )
    _push(version, "model.created")
    return version


@transaction.atomic
def model_version_record(
    *, version_id: int, checkpoint_path: str, checkpoint_sha: str, metrics: dict, curves: list, snapshot: dict,
    labels_at_training: int,
) -> ModelVersion:
    """Store a finished training's checkpoint and held-out metrics; the version becomes ready."""
    version = ModelVersion.objects.select_for_update().get(id=version_id)
    if version.status != ModelVersion.Status.TRAINING:
        raise InvalidTransition(f"Version {version.number} is {version.status}, not training.")
    version.checkpoint_path = checkpoint_path
    version.checkpoint_sha = checkpoint_sha
    version.metrics = metrics
    version.curves = curves
    version.training_snapshot = snapshot
    version.labels_at_training = labels_at_training
    version.status = ModelVersion.Status.READY
    version.save()
    _push(version, "model.ready")
    return version


@transaction.atomic
def model_version_fail(*, version_id: int, reason: str) -> ModelVersion | None:
    """Mark a training version failed (the promoted version is untouched)."""
    version = ModelVersion.objects.select_for_update().filter(id=version_id).first()
    if version is None or version.status != ModelVersion.Status.TRAINING:
        return version
    version.status = ModelVersion.Status.FAILED
    version.status_reason = reason[:2000]
    version.save(update_fields=["status", "status_reason"])
    _push(version, "model.failed")
    return version


def model_version_current(*, project_id: int) -> ModelVersion | None:
    return ModelVersion.objects.filter(project_id=project_id, status=ModelVersion.Status.PROMOTED).first()


def beats_current(*, candidate: ModelVersion, current: ModelVersion | None) -> bool:
    """True when the candidate's held-out primary metric is higher than the promoted version's."""
    if current is None:
        return True
    new = candidate.metrics.get(PRIMARY_METRIC)
    old = current.metrics.get(PRIMARY_METRIC)
    if new is None:
        return False
    return old is None or float(new) > float(old)


@transaction.atomic
def model_version_promote(*, version_id: int, actor=None, force: bool = False) -> ModelVersion:
    """Make a ready (or retired) version the one that serves; refuse a worse one unless forced."""
    version = ModelVersion.objects.select_for_update().filter(id=version_id).first()
    if version is None:
        raise NotFound("Model version not found.")
    if version.status not in (ModelVersion.Status.READY, ModelVersion.Status.RETIRED):
        raise InvalidTransition(f"Version {version.number} is {version.status}; only ready or retired versions can be promoted.")
    current = ModelVersion.objects.select_for_update().filter(
        project_id=version.project_id, status=ModelVersion.Status.PROMOTED
    ).first()
    if not force and not beats_current(candidate=version, current=current):
        raise InvalidTransition(
            f"Version {version.number} does not beat the promoted version on held-out {PRIMARY_METRIC}; "
            "an admin can force it.",
            code="not_better",
        )
    if current is not None:
        current.status = ModelVersion.Status.RETIRED
        current.save(update_fields=["status"])
    version.status = ModelVersion.Status.PROMOTED
    version.promoted_at = timezone.now()
    version.promoted_by = actor if getattr(actor, "is_authenticated", False) else None
    version.save(update_fields=["status", "promoted_at", "promoted_by"])
    AuditEvent.objects.create(
        actor=version.promoted_by, project_id=version.project_id, action="model.promote",
        target=f"model_version:{version.id}",
        detail={"number": version.number, "previous": current.number if current else None, "forced": force},
    )
    _push(version, "model.promoted")
    return version


@transaction.atomic
def model_version_rollback(*, project_id: int, actor=None) -> ModelVersion:
    """Promote the previously promoted version again (the current one is retired)."""
    current = model_version_current(project_id=project_id)
    if current is None:
        raise InvalidTransition("No promoted version to roll back from.")
    previous = (
        ModelVersion.objects.filter(project_id=project_id, status=ModelVersion.Status.RETIRED, promoted_at__isnull=False)
        .exclude(id=current.id)
        .order_by("-promoted_at")
        .first()
    )
    if previous is None:
        raise InvalidTransition("No earlier promoted version to roll back to.")
    return model_version_promote(version_id=previous.id, actor=actor, force=True)


def new_labels_since_last_version(*, project_id: int) -> tuple[int, int]:
    """(labels usable for training now, labels the newest version was trained on)."""
    from annotation.selectors.training import training_label_count

    now = training_label_count(project_id=project_id)
    last = (
        ModelVersion.objects.filter(project_id=project_id)
        .exclude(status=ModelVersion.Status.FAILED)
        .order_by("-number")
        .values_list("labels_at_training", flat=True)
        .first()
    )
    return now, int(last or 0)


def retrain_check_run() -> dict:
    """For every project: start a training when enough new labels arrived and none is running."""
    started = []
    for project_id in Project.objects.values_list("id", flat=True):
        if ModelVersion.objects.filter(project_id=project_id, status=ModelVersion.Status.TRAINING).exists():
            continue
        now, last = new_labels_since_last_version(project_id=project_id)
        if now - last >= settings.RETRAIN_MIN_NEW_LABELS:
            from mlbackend.pipelines.training import training_enqueue

            training_enqueue(project_id=project_id, created_by=None, reason=f"{now - last} new labels")
            started.append(project_id)
    return {"started": started}


def consensus_check_run() -> dict:
    """For every project whose human labels or model predictions changed since its last consensus: queue a rebuild."""
    from annotation.models import AgreementSnapshot, Annotation
    from mlbackend.pipelines.consensus import consensus_enqueue

    queued = []
    for project_id in Project.objects.values_list("id", flat=True):
        last = AgreementSnapshot.objects.filter(project_id=project_id).order_by("-at").values_list("at", flat=True).first()
        changed = Annotation.objects.filter(project_id=project_id,
                                            source__in=[Annotation.Source.HUMAN, Annotation.Source.MODEL])
        if last is not None:
            changed = changed.filter(updated_at__gt=last)
        if changed.exists():
            consensus_enqueue(project_id=project_id)
            queued.append(project_id)
    return {"queued": queued}
