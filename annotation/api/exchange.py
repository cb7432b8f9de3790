"""Export (streamed) and import endpoints for label exchange formats."""

from __future__ import annotations

import io

import orjson
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import HttpResponse, StreamingHttpResponse
from django.http.request import RawPostDataException
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.common import int_param
from annotation.errors import InvalidInput
from annotation.exchange.geojson import stream_feature_collection
from annotation.exchange.tabular import stream_point_csv
from annotation.selectors.annotations import pair_access, visibility_for
from annotation.selectors.projects import MANAGERS, Access, project_access, user_role
from annotation.selectors.tasks import task_get_for_user
from annotation.services.exchange import (
    coco_export,
    export_audit,
    export_records,
    geojson_import,
    mask_png,
    task_mask,
)
from annotation.services.export_sql import as_async, geojson_chunks


def _streamed(request: Request, chunks, content_type: str, filename: str) -> StreamingHttpResponse:
    """Under ASGI the chunks are pulled one by one from the sync thread (Django would list a sync iterator first)."""
    content = as_async(iter(chunks)) if isinstance(request._request, ASGIRequest) else chunks
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _geojson(vis, **filters):
    """Feature text built by PostgreSQL in large chunks; the portable Python encoder elsewhere."""
    if connection.vendor == "postgresql":
        return geojson_chunks(visibility=vis, **filters)
    return stream_feature_collection(export_records(visibility=vis, **filters))


def _sources(request: Request) -> list[str] | None:
    raw = request.query_params.get("source")
    return [s for s in raw.split(",") if s] if raw else None


class PairGeoJSONExportView(APIView):
    @extend_schema(responses={(200, "application/geo+json"): bytes})
    def get(self, request: Request, pair_id: int):
        """All visible labels of a pair as a QuPath-style FeatureCollection, streamed."""
        pair, access = pair_access(user=request.user, pair_id=pair_id)
        vis = visibility_for(user=request.user, access=access)
        task_id = int_param(request.query_params, "task")
        export_audit(actor=request.user, project_id=pair.project_id, fmt="geojson", target=f"pair:{pair.id}",
                     detail={"task": task_id, "source": _sources(request)})
        chunks = _geojson(vis, pair_id=pair.id, task_id=task_id, sources=_sources(request))
        return _streamed(request, chunks, "application/geo+json", f"laypath-pair{pair.id}.geojson")


class PairCsvExportView(APIView):
    @extend_schema(responses={(200, "text/csv"): bytes})
    def get(self, request: Request, pair_id: int):
        """One CSV row per visible label at its centre (points as they are), streamed."""
        pair, access = pair_access(user=request.user, pair_id=pair_id)
        vis = visibility_for(user=request.user, access=access)
        export_audit(actor=request.user, project_id=pair.project_id, fmt="csv", target=f"pair:{pair.id}")
        records = export_records(visibility=vis, pair_id=pair.id, sources=_sources(request))
        return _streamed(request, stream_point_csv(records), "text/csv; charset=utf-8", f"laypath-pair{pair.id}-points.csv")


class ProjectCocoExportView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, project_id: int):
        """COCO instances (polygons) with one image per task region."""
        access: Access = project_access(user=request.user, project_id=project_id)
        vis = visibility_for(user=request.user, access=access)
        pair_id = int_param(request.query_params, "pair")
        export_audit(actor=request.user, project_id=project_id, fmt="coco", target=f"project:{project_id}",
                     detail={"pair": pair_id})
        doc = coco_export(visibility=vis, project_id=project_id, pair_id=pair_id)
        response = HttpResponse(orjson.dumps(doc), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="laypath-project{project_id}-coco.json"'
        return response


class TaskMaskView(APIView):
    @extend_schema(responses={(200, "image/png"): bytes})
    def get(self, request: Request, task_id: int):
        """The task's label mask: 0 unknown, 1 negative (exhaustive tasks), 2+i class i; PNG, or TIFF with `?image=tiff`."""
        task = task_get_for_user(user=request.user, task_id=task_id)
        role = user_role(user=request.user, project_id=task.project_id)
        vis = visibility_for(user=request.user, access=Access(project=task.project, role=role))
        try:
            downsample = float(request.query_params.get("downsample", 1))
        except ValueError as exc:
            raise InvalidInput("downsample must be a number.") from exc
        if not 1 <= downsample <= 64:
            raise InvalidInput("downsample must be between 1 and 64.")
        mask, legend = task_mask(visibility=vis, task=task, downsample=downsample)
        export_audit(actor=request.user, project_id=task.project_id, fmt="mask", target=f"task:{task.id}")
        if request.query_params.get("image") == "tiff":
            import tifffile

            out = io.BytesIO()
            tifffile.imwrite(out, mask, compression="zlib", metadata={"legend": legend})
            response = HttpResponse(out.getvalue(), content_type="image/tiff")
        else:
            response = HttpResponse(mask_png(mask), content_type="image/png")
        response["X-Laypath-Legend"] = orjson.dumps(legend).decode()
        return response


class PairGeoJSONImportView(APIView):
    @extend_schema(request=dict, responses={201: dict})
    def post(self, request: Request, pair_id: int):
        """Import a QuPath GeoJSON file (body) as labels of this pair (managers; `?create_classes=1`)."""
        pair, access = pair_access(user=request.user, pair_id=pair_id)
        access.require(MANAGERS)
        task_id = int_param(request.query_params, "task")
        create = request.query_params.get("create_classes") in ("1", "true", "yes")
        try:
            body = request.body
        except RawPostDataException:  # a form upload was already parsed: the GeoJSON must be the raw body
            raise InvalidInput("Send the GeoJSON file as the request body (application/json).") from None
        result = geojson_import(actor=request.user, pair=pair, data=body, create_classes=create, task_id=task_id)
        return Response(result, status=201)


class ProjectGeoJSONExportView(APIView):
    @extend_schema(responses={(200, "application/geo+json"): bytes})
    def get(self, request: Request, project_id: int):
        """Every visible label of the project (all pairs) as one FeatureCollection, streamed."""
        access: Access = project_access(user=request.user, project_id=project_id)
        vis = visibility_for(user=request.user, access=access)
        export_audit(actor=request.user, project_id=project_id, fmt="geojson", target=f"project:{project_id}")
        chunks = _geojson(vis, sources=_sources(request))
        return _streamed(request, chunks, "application/geo+json", f"laypath-project{project_id}.geojson")


class ProjectCsvExportView(APIView):
    @extend_schema(responses={(200, "text/csv"): bytes})
    def get(self, request: Request, project_id: int):
        """Every visible label of the project as point CSV rows, streamed."""
        access: Access = project_access(user=request.user, project_id=project_id)
        vis = visibility_for(user=request.user, access=access)
        export_audit(actor=request.user, project_id=project_id, fmt="csv", target=f"project:{project_id}")
        records = export_records(visibility=vis, sources=_sources(request))
        return _streamed(request, stream_point_csv(records), "text/csv; charset=utf-8", f"laypath-project{project_id}-points.csv")
