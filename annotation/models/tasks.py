from __future__ import annotations

from django.conf import settings
from django.db import models

from annotation.models.projects import LabelClass, Project
from annotation.models.slides import SlidePair


class Task(models.Model):
    class LabelMode(models.TextChoices):
        EXHAUSTIVE = "exhaustive"
        SPARSE = "sparse"

    class Kind(models.TextChoices):
        ANNOTATE = "annotate"
        REVIEW = "review"
        GOLD = "gold"

    class Status(models.TextChoices):
        OPEN = "open"
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"
        ARCHIVED = "archived"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    pair = models.ForeignKey(SlidePair, on_delete=models.CASCADE, related_name="tasks")
    name = models.CharField(max_length=200, blank=True, default="")
    region = models.JSONField(help_text="GeoJSON Polygon in H&E level-0 px")
    min_x = models.FloatField()
    min_y = models.FloatField()
    max_x = models.FloatField()
    max_y = models.FloatField()
    classes = models.ManyToManyField(LabelClass, related_name="tasks", blank=True)
    label_mode = models.CharField(max_length=16, choices=LabelMode.choices, default=LabelMode.SPARSE)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ANNOTATE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["project", "status", "-priority"]), models.Index(fields=["pair"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_x__gt=models.F("min_x")) & models.Q(max_y__gt=models.F("min_y")),
                name="task_region_nonempty",
            )
        ]


class Assignment(models.Model):
    class Status(models.TextChoices):
        ASSIGNED = "assigned"
        IN_PROGRESS = "in_progress"
        SUBMITTED = "submitted"
        SKIPPED = "skipped"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ASSIGNED)
    time_spent_s = models.FloatField(default=0.0)
    assigned_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True, help_text="Start of the open work session (time accounting).")
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["task", "annotator"], name="assignment_unique")]
        indexes = [models.Index(fields=["annotator", "status"])]
