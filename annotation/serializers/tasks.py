"""Serializers for tasks and assignments."""

from __future__ import annotations

from rest_framework import serializers

from annotation.models import Assignment, Task


class TaskOutSerializer(serializers.ModelSerializer):
    classes = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    bbox = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = ["id", "project", "pair", "name", "region", "bbox", "classes", "label_mode", "kind", "status", "priority", "created_at"]

    def get_bbox(self, task: Task) -> list[float]:
        return [task.min_x, task.min_y, task.max_x, task.max_y]


class TaskSettingsSerializer(serializers.Serializer):
    label_mode = serializers.ChoiceField(choices=Task.LabelMode.choices, default=Task.LabelMode.SPARSE)
    kind = serializers.ChoiceField(choices=Task.Kind.choices, default=Task.Kind.ANNOTATE)
    classes = serializers.ListField(child=serializers.IntegerField(), default=list)
    priority = serializers.FloatField(default=0.0)


class TaskCreateSerializer(TaskSettingsSerializer):
    pair = serializers.IntegerField()
    name = serializers.CharField(required=False, allow_blank=True, default="")
    region = serializers.JSONField(help_text="GeoJSON Polygon in H&E level-0 px")


class TaskUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True)
    priority = serializers.FloatField(required=False)
    label_mode = serializers.ChoiceField(choices=Task.LabelMode.choices, required=False)
    kind = serializers.ChoiceField(choices=Task.Kind.choices, required=False)
    classes = serializers.ListField(child=serializers.IntegerField(), required=False)


class TaskGenerateSerializer(TaskSettingsSerializer):
    pair = serializers.IntegerField()
    field_um = serializers.FloatField(required=False, min_value=1)
    field_px = serializers.FloatField(required=False, min_value=16)
    overlap = serializers.FloatField(default=0.0, min_value=0, max_value=0.89)
    min_tissue = serializers.FloatField(default=0.0, min_value=0, max_value=1)
    distribute = serializers.BooleanField(default=False, help_text="Also assign the new tasks to k annotators each.")

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("field_um") and not attrs.get("field_px"):
            raise serializers.ValidationError("Give field_um or field_px.")
        return attrs


class TaskGenerateOutSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    task_ids = serializers.ListField(child=serializers.IntegerField())
    assignments_created = serializers.IntegerField()


class DistributeSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    tasks = serializers.ListField(child=serializers.IntegerField(), required=False)


class DistributeOutSerializer(serializers.Serializer):
    assignments_created = serializers.IntegerField()


class AssignmentOutSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="annotator.username", read_only=True)
    project = serializers.IntegerField(source="task.project_id", read_only=True)
    pair = serializers.IntegerField(source="task.pair_id", read_only=True)

    class Meta:
        model = Assignment
        fields = [
            "id", "task", "project", "pair", "annotator", "username", "status", "time_spent_s",
            "assigned_at", "started_at", "submitted_at",
        ]


class AssignmentCreateSerializer(serializers.Serializer):
    task = serializers.IntegerField()
    annotator = serializers.IntegerField()


class NextAssignmentSerializer(serializers.Serializer):
    assignment = AssignmentOutSerializer(allow_null=True)
    task = TaskOutSerializer(allow_null=True)
