from __future__ import annotations

from django.conf import settings
from django.db import models

from annotation.models.projects import Project


class Slide(models.Model):
    class Kind(models.TextChoices):
        BRIGHTFIELD = "brightfield"
        FLUORESCENCE = "fluorescence"

    class Status(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="slides")
    name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=1000, help_text="Path relative to SLIDE_ROOT.")
    size_bytes = models.BigIntegerField(default=0)
    checksum = models.CharField(max_length=80, blank=True, default="", help_text="sniff.fast_checksum (f1:...).")
    format = models.CharField(max_length=50, blank=True, default="")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.BRIGHTFIELD)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    levels = models.JSONField(default=list, blank=True, help_text="[[width, height, downsample], ...]")
    mpp_x = models.FloatField(null=True, blank=True)
    mpp_y = models.FloatField(null=True, blank=True)
    objective_power = models.FloatField(null=True, blank=True)
    channels = models.JSONField(default=list, blank=True, help_text="Channel names (fluorescence).")
    display = models.JSONField(default=dict, blank=True, help_text="Default render settings.")
    info = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    status_reason = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["project", "status"])]

    def __str__(self) -> str:
        return self.name


class SlidePair(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pairs")
    name = models.CharField(max_length=255)
    anatomical = models.ForeignKey(Slide, on_delete=models.PROTECT, related_name="anatomical_pairs")
    molecular = models.ForeignKey(Slide, null=True, blank=True, on_delete=models.PROTECT, related_name="molecular_pairs")
    current_registration = models.ForeignKey(
        "annotation.Registration", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tissue_mask = models.JSONField(default=dict, blank=True, help_text="Low-res tissue mask (step_px, rows).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Registration(models.Model):
    """One version of a pair's IF->H&E transform; the pair points at its current one."""

    class Status(models.TextChoices):
        OK = "ok"
        LOW_CONFIDENCE = "low_confidence"
        FAILED = "failed"

    class Source(models.TextChoices):
        IDENTITY = "identity"
        MANUAL = "manual"
        AUTOMATIC = "automatic"
        LANDMARKS = "landmarks"

    pair = models.ForeignKey(SlidePair, on_delete=models.CASCADE, related_name="registrations")
    version = models.PositiveIntegerField()
    source = models.CharField(max_length=16, choices=Source.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.TextField(blank=True, default="")
    transform = models.JSONField(default=dict, help_text="SlideTransform.to_dict(), H&E level-0 px -> IF px")
    transform_sha = models.CharField(max_length=80, blank=True, default="", help_text="sha256:<hex> of the transform file.")
    metrics = models.JSONField(default=dict, blank=True)
    qa = models.JSONField(default=dict, blank=True)
    landmarks = models.JSONField(default=list, blank=True)
    job = models.ForeignKey("annotation.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pair", "version"]
        constraints = [models.UniqueConstraint(fields=["pair", "version"], name="registration_unique_version")]
