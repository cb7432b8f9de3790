from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from annotation.models.projects import LabelClass, Project
from annotation.models.slides import SlidePair
from annotation.models.tasks import Task


class Annotation(models.Model):
    """A point or polygon in H&E level-0 px; every change bumps `version` and writes an event."""

    class Source(models.TextChoices):
        HUMAN = "human"
        MODEL = "model"
        CONSENSUS = "consensus"
        REVIEW = "review"

    class Status(models.TextChoices):
        NONE = "none"
        PROPOSED = "proposed"
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        EDITED = "edited"

    class GeomType(models.TextChoices):
        POINT = "Point"
        POLYGON = "Polygon"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, help_text="Client-generated UUID")
    # no single-column indexes: ann_project_updated, ann_pair_* and ann_task_author lead with these columns
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations", db_index=False)
    pair = models.ForeignKey(SlidePair, on_delete=models.CASCADE, related_name="annotations", db_index=False)
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotations", db_index=False)
    label_class = models.ForeignKey(LabelClass, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    geom_type = models.CharField(max_length=8, choices=GeomType.choices)
    geometry = models.JSONField()
    min_x = models.FloatField()
    min_y = models.FloatField()
    max_x = models.FloatField()
    max_y = models.FloatField()
    cx = models.FloatField()
    cy = models.FloatField()
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.HUMAN)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    model_version_id = models.BigIntegerField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NONE)
    weight = models.FloatField(default=1.0)
    properties = models.JSONField(default=dict, blank=True, help_text="Measurements and extra fields")
    version = models.PositiveIntegerField(default=1)
    is_deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["pair", "min_x", "min_y"], name="ann_pair_bbox"),
            models.Index(fields=["task", "author"], name="ann_task_author"),
            models.Index(fields=["pair", "source", "status"], name="ann_pair_source"),
            models.Index(fields=["project", "updated_at"], name="ann_project_updated"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_x__gte=models.F("min_x")) & models.Q(max_y__gte=models.F("min_y")),
                name="annotation_bbox_ordered",
            )
        ]


class AnnotationEvent(models.Model):
    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"
        RESTORE = "restore"
        ACCEPT = "accept"
        REJECT = "reject"
        REVIEW = "review"

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="events", db_index=False)  # see Meta
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    model_version_id = models.BigIntegerField(null=True, blank=True)
    version = models.PositiveIntegerField()
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["annotation", "version", "id"]
        indexes = [models.Index(fields=["annotation", "at"])]


class BulkRequest(models.Model):
    """A processed bulk annotation request, kept so a replay with the same key returns the same answer."""

    key = models.UUIDField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="bulkrequest_unique_key")]
        indexes = [models.Index(fields=["created_at"])]


class DensityCell(models.Model):
    """Live annotations per (pair, 1024-px grid cell, class, source, author), kept by PostgreSQL triggers on
    annotation_annotation (migration 0007), so a zoomed-out overview reads a few thousand cells, not every row.
    0 stands for no class / no author. Written only by the triggers; no foreign keys, so cascades stay simple."""

    SIZE = 1024  # level-0 px per grid cell; must match the triggers (migration 0007)

    pair_id = models.BigIntegerField()
    gx = models.IntegerField()
    gy = models.IntegerField()
    class_key = models.BigIntegerField()
    source = models.CharField(max_length=16)
    author_key = models.BigIntegerField()
    n = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pair_id", "gx", "gy", "class_key", "source", "author_key"], name="densitycell_key"
            )
        ]
