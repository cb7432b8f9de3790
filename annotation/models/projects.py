from __future__ import annotations

from django.conf import settings
from django.db import models


class Project(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    instructions = models.TextField(blank=True, default="")
    redundancy_k = models.PositiveSmallIntegerField(default=3)
    blind_mode = models.BooleanField(default=True)
    gold_rate = models.FloatField(default=0.0, help_text="Share of served tasks that are gold tasks.")
    qualification_tasks = models.PositiveSmallIntegerField(default=0)
    qualification_min_score = models.FloatField(default=0.7)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(redundancy_k__gte=1), name="project_k_positive"),
            models.CheckConstraint(
                condition=models.Q(gold_rate__gte=0) & models.Q(gold_rate__lte=1), name="project_gold_rate_unit"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    MANAGER = "manager"
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    qualified = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.project_id}:{self.role}"


class LabelClass(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="label_classes")
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, default="#ff0000")
    hotkey = models.CharField(max_length=1, blank=True, default="")
    order = models.PositiveSmallIntegerField(default=0)
    marker_hint = models.CharField(max_length=300, blank=True, default="")
    marker_channel = models.CharField(max_length=50, blank=True, default="")

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="labelclass_unique_name")]

    def __str__(self) -> str:
        return self.name
