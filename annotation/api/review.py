"""Review queue, resolutions, annotator quality and gold feedback endpoints."""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.common import int_param
from annotation.models import AgreementSnapshot, Annotation, AnnotatorQuality, GoldResult, ReviewItem
from annotation.selectors.consensus import review_item_for_user, review_queue_for_user
from annotation.selectors.projects import MANAGERS, MEMBERS, project_get_for_user, user_role
from annotation.services.review import RESOLUTIONS, review_resolve

NEIGHBOURHOOD_PX = 80


def item_out(item: ReviewItem) -> dict:
    return {
        "id": item.id, "project": item.project_id, "pair": item.pair_id, "task": item.task_id,
        "x": item.x, "y": item.y, "score": item.score, "reason": item.reason, "reasons": item.reasons,
        "competing": item.competing, "status": item.status, "resolution": item.resolution,
        "resolved_by": item.resolved_by_id, "resolved_at": item.resolved_at.isoformat() if item.resolved_at else None,
    }


class ReviewQueueView(APIView):
    @extend_schema(operation_id="review_list", responses={200: dict})
    def get(self, request: Request) -> Response:
        """`?project=ID[&status=open&limit=50]`: the queue, best review first."""
        project_id = int_param(request.query_params, "project", required=True)
        status = request.query_params.get("status", "open")
        limit = min(int_param(request.query_params, "limit") or 50, 500)
        qs = review_queue_for_user(user=request.user, project_id=project_id, status=status)
        return Response({"count": qs.count(), "results": [item_out(i) for i in qs[:limit]]})


class ReviewItemView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, item_id: int) -> Response:
        """An item with every label in its neighbourhood (reviewers see all annotators' labels)."""
        item = review_item_for_user(user=request.user, item_id=item_id)
        r = NEIGHBOURHOOD_PX
        nearby = Annotation.objects.filter(pair_id=item.pair_id, is_deleted=False, cx__gte=item.x - r, cx__lte=item.x + r,
                                           cy__gte=item.y - r, cy__lte=item.y + r).filter(Q(task_id=item.task_id) | Q(task__isnull=True))
        labels = [
            {"id": str(a.id), "geometry": a.geometry, "class": a.label_class.name if a.label_class else None,
             "source": a.source, "author": a.author_id, "confidence": a.confidence, "status": a.status}
            for a in nearby.select_related("label_class")[:200]
        ]
        return Response({**item_out(item), "labels": labels})


class ResolveIn(serializers.Serializer):
    action = serializers.ChoiceField(choices=RESOLUTIONS)
    class_name = serializers.CharField(required=False, allow_null=True, max_length=100)
    geometry = serializers.JSONField(required=False, allow_null=True)


class ReviewResolveView(APIView):
    @extend_schema(request=ResolveIn, responses={200: dict})
    def post(self, request: Request, item_id: int) -> Response:
        """Resolve an item: pick a class, fix the outline, reject the labels, or dismiss."""
        item = review_item_for_user(user=request.user, item_id=item_id)
        s = ResolveIn(data=request.data)
        s.is_valid(raise_exception=True)
        resolved = review_resolve(item=item, actor=request.user, action=s.validated_data["action"],
                                  class_name=s.validated_data.get("class_name"), geometry=s.validated_data.get("geometry"))
        return Response(item_out(resolved))


QUALITY_FIELDS = ("reliability", "detection_rate", "class_agreement", "label_precision", "recall", "gold_f1",
                  "gold_class_accuracy", "gold_tasks", "labels", "cells_per_minute", "time_on_task_s",
                  "proposals_accepted", "proposals_rejected")


def quality_out(q: AnnotatorQuality) -> dict:
    out = {"user": q.user_id, "username": q.user.username, "updated_at": q.updated_at.isoformat()}
    out.update({f: getattr(q, f) for f in QUALITY_FIELDS})
    decided = q.proposals_accepted + q.proposals_rejected
    out["acceptance_rate"] = round(q.proposals_accepted / decided, 4) if decided else None
    return out


class ProjectQualityView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, project_id: int) -> Response:
        """Per-annotator quality and agreement over time (managers); annotators see only their own row."""
        project = project_get_for_user(user=request.user, project_id=project_id, roles=MEMBERS)
        role = user_role(user=request.user, project_id=project.id)
        qs = AnnotatorQuality.objects.filter(project=project).select_related("user").order_by("user__username")
        if role not in MANAGERS and role != "admin":
            qs = qs.filter(user=request.user)
        snapshots = AgreementSnapshot.objects.filter(project=project).order_by("at")
        return Response({
            "annotators": [quality_out(q) for q in qs],
            "agreement": [{"at": s.at.isoformat(), "pairwise": s.pairwise_agreement, "model": s.model_agreement,
                           "mean_p_wrong": s.mean_p_wrong, "cells": s.cells, "open_reviews": s.open_reviews}
                          for s in snapshots] if role in MANAGERS or role == "admin" else [],
        })


class GoldFeedbackView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, project_id: int) -> Response:
        """The user's own gold scores with the right answers explained through the marker hints."""
        project = project_get_for_user(user=request.user, project_id=project_id, roles=MEMBERS)
        results = GoldResult.objects.filter(project=project, user=request.user).order_by("-created_at")
        membership_qualified = project.memberships.filter(user=request.user).values_list("qualified", flat=True).first()
        return Response({
            "qualified": bool(membership_qualified) if membership_qualified is not None else True,
            "required": project.qualification_tasks, "min_score": project.qualification_min_score,
            "results": [{"task": r.task_id, "f1": r.f1, "precision": r.precision, "recall": r.recall,
                         "class_accuracy": r.class_accuracy, "feedback": r.feedback, "qualification": r.qualification,
                         "at": r.created_at.isoformat()} for r in results],
        })
