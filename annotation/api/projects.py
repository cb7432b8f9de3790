"""Projects (with stats), label classes and memberships."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from annotation.api.common import Pagination, int_param
from annotation.errors import NotFound
from annotation.models import LabelClass, Membership, Project
from annotation.selectors.projects import (
    MANAGERS,
    label_class_list_for_user,
    membership_list_for_user,
    project_access,
    project_list_for_user,
)
from annotation.serializers.projects import (
    LabelClassSerializer,
    LabelClassUpdateSerializer,
    MembershipInSerializer,
    MembershipOutSerializer,
    MembershipRoleSerializer,
    ProjectInSerializer,
    ProjectOutSerializer,
    StatsQuerySerializer,
)
from annotation.services import projects as svc
from annotation.services.stats import StatsScope, project_stats

PROJECT_PARAM = OpenApiParameter("project", int, description="Only this project")


class ProjectViewSet(viewsets.GenericViewSet):
    """Projects you belong to (staff: all). Any signed-in user may create one and becomes its manager."""

    serializer_class = ProjectOutSerializer
    pagination_class = Pagination

    def get_queryset(self):
        user = self.request.user
        if getattr(self, "swagger_fake_view", False) or not user.is_authenticated:
            return Project.objects.none()
        role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
        return project_list_for_user(user=user).annotate(role=Subquery(role)).order_by("id")

    def _out(self, project, role: str | None) -> dict:
        project.role = role
        return ProjectOutSerializer(project).data

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        items = ProjectOutSerializer(page, many=True).data
        if request.user.is_staff:
            for item in items:
                item["role"] = item["role"] or "admin"
        return self.get_paginated_response(items)

    @extend_schema(request=ProjectInSerializer, responses={201: ProjectOutSerializer})
    def create(self, request):
        data = ProjectInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = svc.project_create(actor=request.user, **data.validated_data)
        return Response(self._out(project, "manager"), status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        access = project_access(user=request.user, project_id=int_param({"pk": pk}, "pk"))
        return Response(self._out(access.project, access.role))

    @extend_schema(request=ProjectInSerializer, responses=ProjectOutSerializer)
    def partial_update(self, request, pk=None):
        access = project_access(user=request.user, project_id=int_param({"pk": pk}, "pk"), roles=MANAGERS)
        data = ProjectInSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        project = svc.project_update(actor=request.user, project=access.project, values=data.validated_data)
        return Response(self._out(project, access.role))

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        access = project_access(user=request.user, project_id=int_param({"pk": pk}, "pk"), roles=MANAGERS)
        svc.project_delete(actor=request.user, project=access.project)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[StatsQuerySerializer], responses={200: dict})
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        """Progress: annotations by status/class/source, tasks, assignments, time, per pair/task/annotator."""
        access = project_access(user=request.user, project_id=int_param({"pk": pk}, "pk"))
        scope = StatsScope(pair_id=int_param(request.query_params, "pair"), task_id=int_param(request.query_params, "task"))
        return Response(project_stats(user=request.user, access=access, scope=scope))


class LabelClassViewSet(viewsets.GenericViewSet):
    """Label classes of a project: members read, managers write."""

    serializer_class = LabelClassSerializer
    pagination_class = Pagination

    def get_queryset(self):
        return label_class_list_for_user(user=self.request.user)

    def _get(self, pk) -> LabelClass:
        found = self.get_queryset().select_related("project").filter(id=int_param({"pk": pk}, "pk")).first()
        if found is None:
            raise NotFound("Label class not found.")
        return found

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request):
        qs = label_class_list_for_user(user=request.user, project_id=int_param(request.query_params, "project"))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(LabelClassSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(LabelClassSerializer(self._get(pk)).data)

    def create(self, request):
        data = LabelClassSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        project = values.pop("project")
        access = project_access(user=request.user, project_id=project.id, roles=MANAGERS)
        label_class = svc.label_class_create(actor=request.user, project=access.project, **values)
        return Response(LabelClassSerializer(label_class).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LabelClassUpdateSerializer)
    def partial_update(self, request, pk=None):
        label_class = self._get(pk)
        project_access(user=request.user, project_id=label_class.project_id, roles=MANAGERS)
        data = LabelClassUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        label_class = svc.label_class_update(actor=request.user, label_class=label_class, values=data.validated_data)
        return Response(LabelClassSerializer(label_class).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        label_class = self._get(pk)
        project_access(user=request.user, project_id=label_class.project_id, roles=MANAGERS)
        svc.label_class_delete(actor=request.user, label_class=label_class)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MembershipViewSet(viewsets.GenericViewSet):
    """Who is in a project with which role: managers and reviewers see all, annotators themselves; managers write."""

    serializer_class = MembershipOutSerializer
    pagination_class = Pagination

    def get_queryset(self):
        return membership_list_for_user(user=self.request.user)

    def _get(self, pk) -> Membership:
        found = self.get_queryset().select_related("project").filter(id=int_param({"pk": pk}, "pk")).first()
        if found is None:
            raise NotFound("Membership not found.")
        return found

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request):
        qs = membership_list_for_user(user=request.user, project_id=int_param(request.query_params, "project"))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(MembershipOutSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(MembershipOutSerializer(self._get(pk)).data)

    @extend_schema(request=MembershipInSerializer, responses={201: MembershipOutSerializer})
    def create(self, request):
        data = MembershipInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        access = project_access(user=request.user, project_id=values["project"], roles=MANAGERS)
        membership = svc.membership_add(
            actor=request.user, project=access.project, role=values["role"], user_id=values.get("user"), username=values.get("username")
        )
        return Response(MembershipOutSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MembershipRoleSerializer, responses=MembershipOutSerializer)
    def partial_update(self, request, pk=None):
        membership = self._get(pk)
        project_access(user=request.user, project_id=membership.project_id, roles=MANAGERS)
        data = MembershipRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = svc.membership_change_role(actor=request.user, membership=membership, role=data.validated_data["role"])
        return Response(MembershipOutSerializer(membership).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        membership = self._get(pk)
        project_access(user=request.user, project_id=membership.project_id, roles=MANAGERS)
        svc.membership_remove(actor=request.user, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)
