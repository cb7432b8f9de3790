"""Tasks (generation, distribution, archive) and assignments (manual assign, next, start, submit, skip)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from annotation.api.common import Pagination, int_param
from annotation.errors import PermissionDenied
from annotation.models import Assignment, SlidePair
from annotation.selectors.annotations import pair_access
from annotation.selectors.projects import MANAGERS, project_access
from annotation.selectors.tasks import (
    assignment_get_for_user,
    assignment_list_for_user,
    assignment_next_for_annotator,
    task_get_for_user,
    task_list_for_user,
)
from annotation.serializers.tasks import (
    AssignmentCreateSerializer,
    AssignmentOutSerializer,
    DistributeOutSerializer,
    DistributeSerializer,
    NextAssignmentSerializer,
    TaskCreateSerializer,
    TaskGenerateOutSerializer,
    TaskGenerateSerializer,
    TaskOutSerializer,
    TaskUpdateSerializer,
)
from annotation.services import tasks as svc
from annotation.services.gold import gold_assignment_ensure

P = OpenApiParameter


def _settings(data: dict) -> svc.TaskSettings:
    return svc.TaskSettings(
        label_mode=data["label_mode"], kind=data["kind"], class_ids=tuple(data["classes"]), priority=data["priority"]
    )


def _managed_pair(user, pair_id: int) -> SlidePair:
    pair, access = pair_access(user=user, pair_id=pair_id)
    access.require(MANAGERS)
    return pair


class TaskViewSet(viewsets.GenericViewSet):
    """Fields of view to label. Managers and reviewers see all of a project's tasks; annotators the ones assigned to them."""

    serializer_class = TaskOutSerializer
    pagination_class = Pagination

    def get_queryset(self):
        return task_list_for_user(user=self.request.user)

    def _managed(self, request, pk):
        task = task_get_for_user(user=request.user, task_id=int_param({"pk": pk}, "pk"))
        project_access(user=request.user, project_id=task.project_id, roles=MANAGERS)
        return task

    @extend_schema(parameters=[P("project", int), P("pair", int), P("status", str)])
    def list(self, request):
        params = request.query_params
        qs = task_list_for_user(
            user=request.user, project_id=int_param(params, "project"), pair_id=int_param(params, "pair"), status=params.get("status")
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(TaskOutSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(TaskOutSerializer(task_get_for_user(user=request.user, task_id=int_param({"pk": pk}, "pk"))).data)

    @extend_schema(request=TaskCreateSerializer, responses={201: TaskOutSerializer})
    def create(self, request):
        data = TaskCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        pair = _managed_pair(request.user, values["pair"])
        task = svc.task_create(actor=request.user, pair=pair, region=values["region"], name=values["name"], settings=_settings(values))
        return Response(TaskOutSerializer(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TaskUpdateSerializer, responses=TaskOutSerializer)
    def partial_update(self, request, pk=None):
        task = self._managed(request, pk)
        data = TaskUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "classes" in values:
            values["class_ids"] = values.pop("classes")
        return Response(TaskOutSerializer(svc.task_update(actor=request.user, task=task, values=values)).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        svc.task_delete(actor=request.user, task=self._managed(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=TaskOutSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        """Archive a task; its open assignments are withdrawn."""
        return Response(TaskOutSerializer(svc.task_archive(actor=request.user, task=self._managed(request, pk))).data)

    @extend_schema(request=TaskGenerateSerializer, responses={201: TaskGenerateOutSerializer})
    @action(detail=False, methods=["post"])
    def generate(self, request):
        """Cut a slide pair into a grid of fields of view over its tissue (optionally distribute them)."""
        data = TaskGenerateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        pair = _managed_pair(request.user, values["pair"])
        spec = svc.GridSpec(
            field_um=values.get("field_um"), field_px=values.get("field_px"), overlap=values["overlap"], min_tissue=values["min_tissue"]
        )
        tasks = svc.task_generate_grid(actor=request.user, pair=pair, spec=spec, settings=_settings(values))
        created = []
        if values["distribute"] and tasks:
            created = svc.task_distribute(actor=request.user, project=pair.project, task_ids=[t.id for t in tasks])
        body = {"created": len(tasks), "task_ids": [t.id for t in tasks], "assignments_created": len(created)}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=DistributeSerializer, responses=DistributeOutSerializer)
    @action(detail=False, methods=["post"])
    def distribute(self, request):
        """Give every active task k distinct annotators (fewest open assignments first)."""
        data = DistributeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        access = project_access(user=request.user, project_id=data.validated_data["project"], roles=MANAGERS)
        created = svc.task_distribute(actor=request.user, project=access.project, task_ids=data.validated_data.get("tasks"))
        return Response({"assignments_created": len(created)})


class AssignmentViewSet(viewsets.GenericViewSet):
    """Who labels which task. Annotators see and work their own; managers assign and withdraw."""

    serializer_class = AssignmentOutSerializer
    pagination_class = Pagination

    def get_queryset(self):
        return assignment_list_for_user(user=self.request.user)

    def _own(self, request, pk) -> Assignment:
        assignment = assignment_get_for_user(user=request.user, assignment_id=int_param({"pk": pk}, "pk"))
        if assignment.annotator_id != request.user.id:
            raise PermissionDenied("Only the assigned annotator works on an assignment.")
        return assignment

    @extend_schema(parameters=[P("project", int), P("task", int), P("annotator", int), P("status", str)])
    def list(self, request):
        params = request.query_params
        qs = assignment_list_for_user(
            user=request.user, project_id=int_param(params, "project"), task_id=int_param(params, "task"),
            annotator_id=int_param(params, "annotator"), status=params.get("status"),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(AssignmentOutSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        found = assignment_get_for_user(user=request.user, assignment_id=int_param({"pk": pk}, "pk"))
        return Response(AssignmentOutSerializer(found).data)

    @extend_schema(request=AssignmentCreateSerializer, responses={201: AssignmentOutSerializer})
    def create(self, request):
        data = AssignmentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        task = task_get_for_user(user=request.user, task_id=data.validated_data["task"])
        project_access(user=request.user, project_id=task.project_id, roles=MANAGERS)
        assignment = svc.assignment_create(actor=request.user, task=task, annotator_id=data.validated_data["annotator"])
        return Response(AssignmentOutSerializer(assignment).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        assignment = assignment_get_for_user(user=request.user, assignment_id=int_param({"pk": pk}, "pk"))
        project_access(user=request.user, project_id=assignment.task.project_id, roles=MANAGERS)
        svc.assignment_delete(actor=request.user, assignment=assignment)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[P("project", int)], responses=NextAssignmentSerializer)
    @action(detail=False, methods=["get"])
    def next(self, request):
        """Your next assignment: in progress first, then by task priority (`null` when none is left)."""
        project_id = int_param(request.query_params, "project")
        if project_id is not None:
            project_access(user=request.user, project_id=project_id)
            gold_assignment_ensure(user=request.user, project_id=project_id)
        found = assignment_next_for_annotator(user=request.user, project_id=project_id)
        if found is None:
            return Response({"assignment": None, "task": None})
        return Response({"assignment": AssignmentOutSerializer(found).data, "task": TaskOutSerializer(found.task).data})

    @extend_schema(request=None, responses=AssignmentOutSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """Start or resume work (the clock runs until submit or skip)."""
        return Response(AssignmentOutSerializer(svc.assignment_start(actor=request.user, assignment=self._own(request, pk))).data)

    @extend_schema(request=None, responses=AssignmentOutSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit a started assignment; the task completes after k submissions."""
        return Response(AssignmentOutSerializer(svc.assignment_submit(actor=request.user, assignment=self._own(request, pk))).data)

    @extend_schema(request=None, responses=AssignmentOutSerializer)
    @action(detail=True, methods=["post"])
    def skip(self, request, pk=None):
        """Skip an open assignment; the task goes to someone who never had it."""
        return Response(AssignmentOutSerializer(svc.assignment_skip(actor=request.user, assignment=self._own(request, pk))).data)


