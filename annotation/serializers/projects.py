"""Serializers for projects, label classes and memberships."""

from __future__ import annotations

from rest_framework import serializers

from annotation.models import LabelClass, Membership, Project, Role


class ProjectOutSerializer(serializers.ModelSerializer):
    role = serializers.CharField(read_only=True, allow_null=True, help_text="Your role: manager, reviewer, annotator or admin.")

    class Meta:
        model = Project
        fields = [
            "id", "name", "description", "instructions", "redundancy_k", "blind_mode", "gold_rate",
            "qualification_tasks", "qualification_min_score", "created_at", "role",
        ]


class ProjectInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    instructions = serializers.CharField(required=False, allow_blank=True)
    redundancy_k = serializers.IntegerField(required=False, min_value=1, max_value=50)
    blind_mode = serializers.BooleanField(required=False)
    gold_rate = serializers.FloatField(required=False, min_value=0, max_value=1)
    qualification_tasks = serializers.IntegerField(required=False, min_value=0)
    qualification_min_score = serializers.FloatField(required=False, min_value=0, max_value=1)


class LabelClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = LabelClass
        fields = ["id", "project", "name", "color", "hotkey", "order", "marker_hint", "marker_channel"]
        read_only_fields = ["id"]
        validators = []  # uniqueness is the service's job (409 duplicate)


class LabelClassUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    color = serializers.CharField(max_length=7, required=False)
    hotkey = serializers.CharField(max_length=1, required=False, allow_blank=True)
    order = serializers.IntegerField(required=False, min_value=0)
    marker_hint = serializers.CharField(max_length=300, required=False, allow_blank=True)
    marker_channel = serializers.CharField(max_length=50, required=False, allow_blank=True)


class MembershipOutSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "project", "user", "username", "role", "qualified", "created_at"]


class MembershipInSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    user = serializers.IntegerField(required=False)
    username = serializers.CharField(required=False)
    role = serializers.ChoiceField(choices=Role.choices)

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("user") and not attrs.get("username"):
            raise serializers.ValidationError("Give user (id) or username.")
        return attrs


class MembershipRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class StatsQuerySerializer(serializers.Serializer):
    pair = serializers.IntegerField(required=False)
    task = serializers.IntegerField(required=False)
