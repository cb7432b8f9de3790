"""Model versions: what was trained on what, how well it does on held-out data, and which one serves."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        TRAINING = "training"
        READY = "ready"
        FAILED = "failed"
        PROMOTED = "promoted"
        RETIRED = "retired"

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="model_versions")
    number = models.PositiveIntegerField()
    architecture = models.CharField(max_length=100, default="cellnet")
    config = models.JSONField(default=dict, blank=True)
    checkpoint_path = models.CharField(max_length=1000, blank=True, default="")
    checkpoint_sha = models.CharField(max_length=64, blank=True, default="")
    training_snapshot = models.JSONField(default=dict, blank=True, help_text="Label counts per class and source, splits")
    metrics = models.JSONField(default=dict, blank=True, help_text="Held-out validation metrics")
    curves = models.JSONField(default=list, blank=True, help_text="Per-epoch loss and validation figures")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRAINING)
    status_reason = models.TextField(blank=True, default="")
    labels_at_training = models.PositiveIntegerField(default=0)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    job = models.ForeignKey("annotation.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    promoted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["project", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="modelversion_unique_number"),
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(status="promoted"), name="modelversion_one_promoted"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}/v{self.number} ({self.status})"
