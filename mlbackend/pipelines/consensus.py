"""Consensus pipeline: match the k annotators' labels (and the model's cells), Dawid-Skene consensus,
review queue by expected value, annotator quality, active-learning task priorities; written through
annotation services."""

from __future__ import annotations

import logging
from collections import defaultdict

from django.db import transaction
from django.db.models import Count, Q, Sum

from annotation.models import Annotation, Assignment, Job, ReviewItem
from annotation.selectors.consensus import TaskInputs, consensus_inputs
from annotation.services.jobs import job_create, job_fail, job_progress, job_start, job_succeed
from annotation.services.review import (
    ConsensusLabel,
    QueueEntry,
    agreement_snapshot_record,
    consensus_replace,
    quality_record,
    review_queue_replace,
    task_priorities_record,
)
from mlbackend.engine.consensus import (
    AnnotatorLabel,
    ConsensusConfig,
    ModelCell,
    ReviewConfig,
    TaskLabels,
    build_consensus,
    consensus_agreement,
    consensus_labels,
    labelling_speed,
    review_queue,
    task_disagreements,
    task_priorities,
)
from mlbackend.services import model_version_current

logger = logging.getLogger(__name__)
MAX_QUEUE = 5000


def consensus_enqueue(*, project_id: int, created_by=None) -> Job:
    """Queue a consensus rebuild (one at a time per project: a queued or running one is reused)."""
    with transaction.atomic():
        active = Job.objects.filter(project_id=project_id, kind=Job.Kind.CONSENSUS,
                                    status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).first()
        if active is not None:
            return active
        job = job_create(kind=Job.Kind.CONSENSUS, project_id=project_id, target={"project_id": project_id},
                         created_by=created_by)
    from mlbackend.tasks import rebuild_consensus

    transaction.on_commit(lambda: rebuild_consensus.delay(str(job.id)))
    return job


def engine_tasks(inputs: list[TaskInputs]) -> list[TaskLabels]:
    """Platform records -> engine inputs (class keys are class names; annotator ids are user ids)."""
    return [
        TaskLabels(
            task_id=t.task_id, mode=t.mode, classes=t.classes, mpp=t.mpp, annotator_ids=t.annotator_ids,
            labels=tuple(AnnotatorLabel(label_id=lab.id, annotator_id=lab.author_id, class_key=lab.class_name,
                                        x=lab.x, y=lab.y, polygon=lab.ring, created_at_s=lab.created_at_s)
                         for lab in t.labels),
            model_cells=tuple(ModelCell(x=m.x, y=m.y, class_key=m.class_name, confidence=m.confidence, polygon=m.ring)
                              for m in t.model_cells if m.class_name),
        )
        for t in inputs
    ]


def _queue_entries(result) -> list[QueueEntry]:
    out = []
    for item in review_queue(result, ReviewConfig(max_items=MAX_QUEUE)):
        competing = [
            {"class": c.class_key, "source": c.source, "annotators": list(c.annotator_ids),
             "label_ids": [str(i) for i in c.label_ids], "posterior": round(float(c.posterior), 4)}
            for c in item.competing
        ]
        out.append(QueueEntry(task_id=item.task_id, x=item.x, y=item.y, score=round(float(item.score), 6),
                              reason=item.reason, reasons=tuple(item.reasons), competing=competing))
    return out


def _quality_rows(project_id: int, result, labels: list[AnnotatorLabel]) -> dict[int, dict]:
    rows: dict[int, dict] = defaultdict(dict)
    for a in result.annotators:
        rows[a.annotator_id].update(reliability=round(a.reliability, 4), detection_rate=a.detection_rate,
                                    labels=a.n_labels, confusion=[list(r) for r in a.confusion])
    for a in consensus_agreement(result):
        rows[a.annotator_id].update(class_agreement=a.class_agreement, label_precision=a.label_precision, recall=a.recall)
    for s in labelling_speed(labels):
        rows[s.annotator_id]["cells_per_minute"] = s.cells_per_minute
    time_spent = Assignment.objects.filter(task__project_id=project_id).values("annotator_id").annotate(t=Sum("time_spent_s"))
    for row in time_spent:
        if row["annotator_id"] in rows:
            rows[row["annotator_id"]]["time_on_task_s"] = float(row["t"] or 0.0)
    reviews = (
        Annotation.objects.filter(project_id=project_id, source=Annotation.Source.MODEL)
        .values("events__actor_id")
        .annotate(acc=Count("id", filter=Q(events__action="accept")), rej=Count("id", filter=Q(events__action="reject")))
    )
    for row in reviews:
        if row["events__actor_id"] in rows:
            rows[row["events__actor_id"]].update(proposals_accepted=row["acc"], proposals_rejected=row["rej"])
    return rows


def consensus_rebuild(*, project_id: int, progress=None) -> dict:
    """Rebuild consensus, queue, quality and priorities of a project; returns a summary."""
    current = model_version_current(project_id=project_id)
    inputs = consensus_inputs(project_id=project_id, model_version_id=current.id if current else None)
    tasks = engine_tasks(inputs)
    if not tasks:
        return {"tasks": 0, "cells": 0, "queue": 0}
    if progress:
        progress(0.2, f"matching labels of {len(tasks)} tasks")
    result = build_consensus(tasks, config=ConsensusConfig())
    n_cells = result.arrays.n_cells
    cl = consensus_labels(result)
    agreed = [
        ConsensusLabel(task_id=t, class_name=str(c), posterior=p, x=x, y=y, ring=r, support=n)
        for t, c, p, x, y, r, n in zip(cl.task_ids, cl.class_keys, cl.posterior.tolist(), cl.x.tolist(),
                                       cl.y.tolist(), cl.polygons, cl.support.tolist(), strict=True)
    ]
    if progress:
        progress(0.6, f"{len(agreed)} consensus cells; building the review queue")
    entries = _queue_entries(result)
    per_task = task_disagreements(result)
    generation = (ReviewItem.objects.filter(project_id=project_id).order_by("-generation").values_list("generation", flat=True).first() or 0) + 1
    labels = [lab for t in tasks for lab in t.labels]
    with transaction.atomic():
        written = consensus_replace(project_id=project_id, labels=agreed)
        queued = review_queue_replace(project_id=project_id, entries=entries, generation=generation)
        quality_record(project_id=project_id, rows=_quality_rows(project_id, result, labels))
        task_priorities_record(priorities={p.task_id: p.priority for p in task_priorities(result)})
        pairwise = [t.pairwise_agreement for t in per_task if t.pairwise_agreement is not None]
        model_ag = [t.model_agreement for t in per_task if t.model_agreement is not None]
        agreement_snapshot_record(
            project_id=project_id, cells=n_cells, open_reviews=queued,
            pairwise_agreement=sum(pairwise) / len(pairwise) if pairwise else None,
            model_agreement=sum(model_ag) / len(model_ag) if model_ag else None,
            mean_p_wrong=sum(t.mean_p_wrong for t in per_task) / len(per_task) if per_task else None,
        )
    return {"tasks": len(tasks), "cells": n_cells, "consensus_labels": written, "queue": queued,
            "generation": generation}


def consensus_run(*, job_id: str) -> dict | None:
    job = job_start(job_id=job_id)
    if job is None:
        return None
    try:
        summary = consensus_rebuild(
            project_id=job.project_id,
            progress=lambda f, m: job_progress(job_id=job_id, progress=f, message=m),
        )
    except Exception as exc:
        logger.exception("consensus job %s failed", job_id)
        job_fail(job_id=job_id, error=f"consensus failed ({type(exc).__name__}: {exc})")
        return None
    job_succeed(job_id=job_id, result=summary)
    return summary
