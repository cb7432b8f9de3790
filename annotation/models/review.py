"""Review queue items, annotator quality and gold results (filled by the consensus pipeline and reviewers)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotation.models.projects import Project
from annotation.models.slides import SlidePair
from annotation.models.tasks import Task


class ReviewItem(models.Model):
    """One place where people and/or the model disagree, ordered by the expected value of a review."""

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"
        DISMISSED = "dismissed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="review_items")
    pair = models.ForeignKey(SlidePair, on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.CASCADE, related_name="review_items")
    x = models.FloatField()
    y = models.FloatField()
    score = models.FloatField()
    reason = models.CharField(max_length=64)
    reasons = models.JSONField(default=list)
    competing = models.JSONField(default=list, help_text="Competing labels: class, source, annotators, label ids")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    resolution = models.JSONField(default=dict, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    generation = models.PositiveIntegerField(default=1, help_text="Consensus rebuild that produced the item")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-score", "id"]
        indexes = [models.Index(fields=["project", "status", "-score"], name="review_queue_order")]


class AnnotatorQuality(models.Model):
    """The latest quality figures of one annotator in one project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="qualities")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reliability = models.FloatField(null=True, blank=True)
    detection_rate = models.FloatField(null=True, blank=True)
    class_agreement = models.FloatField(null=True, blank=True)
    label_precision = models.FloatField(null=True, blank=True)
    recall = models.FloatField(null=True, blank=True)
    gold_f1 = models.FloatField(null=True, blank=True)
    gold_class_accuracy = models.FloatField(null=True, blank=True)
    gold_tasks = models.PositiveIntegerField(default=0)
    labels = models.PositiveIntegerField(default=0)
    cells_per_minute = models.FloatField(null=True, blank=True)
    time_on_task_s = models.FloatField(default=0.0)
    proposals_accepted = models.PositiveIntegerField(default=0)
    proposals_rejected = models.PositiveIntegerField(default=0)
    confusion = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="quality_unique")]


class AgreementSnapshot(models.Model):
    """Project-level agreement after each consensus rebuild (the 'agreement over time' chart)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="agreement_snapshots")
    at = models.DateTimeField(auto_now_add=True)
    cells = models.PositiveIntegerField(default=0)
    pairwise_agreement = models.FloatField(null=True, blank=True)
    model_agreement = models.FloatField(null=True, blank=True)
    mean_p_wrong = models.FloatField(null=True, blank=True)
    open_reviews = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["project", "at"]


class GoldResult(models.Model):
    """An annotator's score on one gold task, with the right answers to show them."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="gold_results")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="gold_results")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    f1 = models.FloatField()
    precision = models.FloatField()
    recall = models.FloatField()
    class_accuracy = models.FloatField(null=True, blank=True)
    feedback = models.JSONField(default=list, help_text="Per gold cell: found?, your class, right class, marker hint")
    qualification = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "user"], name="gold_result_unique")]
