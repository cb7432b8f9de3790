from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Job(models.Model):
    """The truth about a slow piece of work (the UI reads this, never Celery's result backend)."""

    class Kind(models.TextChoices):
        INGEST = "ingest"
        REGISTRATION = "registration"
        TRAINING = "training"
        INFERENCE = "inference"
        CONSENSUS = "consensus"
        EXPORT = "export"
        OTHER = "other"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    project = models.ForeignKey("annotation.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    target = models.JSONField(default=dict, blank=True, help_text="Ids the job works on.")
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=500, blank=True, default="")
    error = models.TextField(blank=True, default="")
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "status"]), models.Index(fields=["project", "-created_at"])]


class WorkerHeartbeat(models.Model):
    hostname = models.CharField(max_length=200, unique=True)
    queues = models.JSONField(default=list)
    pid = models.IntegerField(default=0)
    seen_at = models.DateTimeField()


class AuditEvent(models.Model):
    """Who did what that is not an annotation change (exports, promotions, role changes)."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    project = models.ForeignKey("annotation.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["project", "-at"])]
