"""Input serializers of the slide, upload, pair and registration endpoints (outputs are service payloads)."""

from __future__ import annotations

from rest_framework import serializers


class UploadCreateIn(serializers.Serializer):
    project = serializers.IntegerField()
    filename = serializers.CharField(max_length=255)
    size = serializers.IntegerField(min_value=1)
    sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True, default="")


class ImportIn(serializers.Serializer):
    paths = serializers.ListField(child=serializers.CharField(max_length=1000), min_length=1, max_length=1000)


class PairCreateIn(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    anatomical = serializers.IntegerField()
    molecular = serializers.IntegerField(required=False, allow_null=True, default=None)


class PairUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False)
    anatomical = serializers.IntegerField(required=False)
    molecular = serializers.IntegerField(required=False)


def _point() -> serializers.ListField:
    return serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)


class LandmarksIn(serializers.Serializer):
    landmarks = serializers.ListField(
        child=serializers.ListField(child=_point(), min_length=2, max_length=2), min_length=1, max_length=500
    )


class AffineIn(serializers.Serializer):
    affine = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=3, max_length=3),
        min_length=2, max_length=3,
    )
