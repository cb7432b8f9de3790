"""ML admin API: model versions, retraining, promotion and roll-back, pre-annotation, click-to-segment."""

from __future__ import annotations

import threading

import numpy as np
from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.common import int_param
from annotation.errors import InvalidInput, NotFound
from annotation.imaging.readers import open_slide
from annotation.selectors.projects import (
    MANAGERS,
    MEMBERS,
    REVIEWERS,
    project_get_for_user,
    project_list_for_user,
)
from annotation.services.jobs import job_payload
from mlbackend.models import ModelVersion
from mlbackend.pipelines.inference import preannotate_enqueue
from mlbackend.pipelines.training import training_enqueue
from mlbackend.services import model_version_current, model_version_promote, model_version_rollback


def version_out(v: ModelVersion) -> dict:
    return {
        "id": v.id, "project": v.project_id, "number": v.number, "status": v.status,
        "status_reason": v.status_reason, "architecture": v.architecture, "config": v.config,
        "metrics": v.metrics, "curves": v.curves, "training_snapshot": v.training_snapshot,
        "labels_at_training": v.labels_at_training, "parent": v.parent_id,
        "job": str(v.job_id) if v.job_id else None,
        "created_at": v.created_at.isoformat(), "promoted_at": v.promoted_at.isoformat() if v.promoted_at else None,
    }


class VersionListView(APIView):
    @extend_schema(operation_id="ml_versions_list", responses={200: dict})
    def get(self, request: Request) -> Response:
        """Model versions of the projects the user manages or reviews (admins: all)."""
        projects = project_list_for_user(user=request.user)
        qs = ModelVersion.objects.filter(project__in=projects).order_by("project_id", "-number")
        if request.query_params.get("project"):
            project = project_get_for_user(user=request.user, project_id=int_param(request.query_params, "project"), roles=REVIEWERS)
            qs = qs.filter(project=project)
        elif not request.user.is_staff:
            qs = qs.filter(project__memberships__user=request.user, project__memberships__role__in=REVIEWERS)
        return Response({"results": [version_out(v) for v in qs[:500]]})


class VersionDetailView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, version_id: int) -> Response:
        version = _version_for(request.user, version_id)
        return Response(version_out(version))


class PromoteIn(serializers.Serializer):
    force = serializers.BooleanField(default=False)


class VersionPromoteView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=PromoteIn, responses={200: dict})
    def post(self, request: Request, version_id: int) -> Response:
        """Promote a version (refused when it does not beat the current one, unless forced)."""
        data = _valid(PromoteIn, request.data)
        version = _version_for(request.user, version_id)
        promoted = model_version_promote(version_id=version.id, actor=request.user, force=data["force"])
        return Response(version_out(promoted))


class RetrainIn(serializers.Serializer):
    epochs = serializers.IntegerField(min_value=1, max_value=500, required=False)
    steps_per_epoch = serializers.IntegerField(min_value=1, max_value=1000, required=False)


class ProjectRetrainView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=RetrainIn, responses={202: dict})
    def post(self, request: Request, project_id: int) -> Response:
        """Start a training run now (202 with the job)."""
        project = project_get_for_user(user=request.user, project_id=project_id)
        config = _valid(RetrainIn, request.data)
        job = training_enqueue(project_id=project.id, created_by=request.user, reason="triggered by an admin", config=config)
        return Response(job_payload(job), status=status.HTTP_202_ACCEPTED)


class ProjectRollbackView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_get_for_user(user=request.user, project_id=project_id)
        return Response(version_out(model_version_rollback(project_id=project.id, actor=request.user)))


class ProjectPreannotateView(APIView):
    @extend_schema(request=None, responses={202: dict})
    def post(self, request: Request, project_id: int) -> Response:
        """Run the promoted model over the open tasks (managers and admins)."""
        project = project_get_for_user(user=request.user, project_id=project_id, roles=MANAGERS)
        current = model_version_current(project_id=project.id)
        if current is None:
            raise InvalidInput("No promoted model version yet.", code="no_model")
        job = preannotate_enqueue(project_id=project.id, version_id=current.id, created_by=request.user)
        return Response(job_payload(job), status=status.HTTP_202_ACCEPTED)


class ProjectConsensusView(APIView):
    @extend_schema(request=None, responses={202: dict})
    def post(self, request: Request, project_id: int) -> Response:
        """Rebuild consensus, review queue, quality and task priorities now (managers, reviewers, admins)."""
        from mlbackend.pipelines.consensus import consensus_enqueue

        project = project_get_for_user(user=request.user, project_id=project_id, roles=REVIEWERS)
        job = consensus_enqueue(project_id=project.id, created_by=request.user)
        return Response(job_payload(job), status=status.HTTP_202_ACCEPTED)


class ClickIn(serializers.Serializer):
    pair = serializers.IntegerField()
    x = serializers.FloatField(min_value=0)
    y = serializers.FloatField(min_value=0)
    negatives = serializers.ListField(child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
                                      required=False, max_length=20, default=list)


CROP_PX = 256
_models: dict[int, object] = {}
_models_lock = threading.Lock()


def _click_model(project_id: int):
    """The promoted model's network, loaded once per version (None: classical outline)."""
    if not getattr(settings, "CLICK_USE_MODEL", True):
        return None
    current = model_version_current(project_id=project_id)
    if current is None or not current.checkpoint_path:
        return None
    with _models_lock:
        if current.id not in _models:
            from mlbackend.engine.training.checkpoint import load_checkpoint

            _models.clear()
            _models[current.id] = load_checkpoint(current.checkpoint_path, device="cpu").net
        return _models[current.id]


class SegmentClickView(APIView):
    @extend_schema(request=ClickIn, responses={200: dict})
    def post(self, request: Request) -> Response:
        """Outline the cell under a click (level-0 H&E px) with the promoted model, else classically."""
        from annotation.selectors.slides import pair_get_for_user
        from mlbackend.engine.interactive import segment_click

        data = _valid(ClickIn, request.data)
        pair = pair_get_for_user(user=request.user, pair_id=data["pair"])
        project_get_for_user(user=request.user, project_id=pair.project_id, roles=MEMBERS)
        slide = pair.anatomical
        x0 = int(max(0, min(data["x"] - CROP_PX // 2, max(slide.width - CROP_PX, 0))))
        y0 = int(max(0, min(data["y"] - CROP_PX // 2, max(slide.height - CROP_PX, 0))))
        with open_slide(f"{settings.SLIDE_ROOT}/{slide.file_path}") as reader:
            rgb = np.asarray(reader.read_region(0, x0, y0, CROP_PX, CROP_PX))[..., :3]
        negatives = [(nx - x0, ny - y0) for nx, ny in data["negatives"]]
        result = segment_click(rgb, (data["x"] - x0, data["y"] - y0), negatives, _click_model(pair.project_id))
        ring = [[round(px + x0, 2), round(py + y0, 2)] for px, py in result.polygon]
        if len(ring) < 3:
            raise InvalidInput("No cell found under the click.", code="no_cell")
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        return Response({"geometry": {"type": "Polygon", "coordinates": [ring]}, "method": result.method,
                         "area_px": result.area_px, "ms": round(result.seconds * 1000, 1)})


def _valid(serializer_class, data) -> dict:
    s = serializer_class(data=data)
    s.is_valid(raise_exception=True)
    return s.validated_data


def _version_for(user, version_id: int) -> ModelVersion:
    version = ModelVersion.objects.filter(id=version_id, project__in=project_list_for_user(user=user)).first()
    if version is None:
        raise NotFound("Model version not found.")
    project_get_for_user(user=user, project_id=version.project_id, roles=REVIEWERS)
    return version
