"""REST endpoints for slides, uploads, imports, slide pairs, registrations and jobs (managers write)."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.selectors.projects import MANAGERS, project_get_for_user
from annotation.selectors.slides import (
    job_get_for_user,
    job_list_for_user,
    pair_get_for_user,
    pair_list_for_user,
    slide_get_for_user,
    slide_list_for_user,
)
from annotation.serializers.slides import (
    AffineIn,
    ImportIn,
    LandmarksIn,
    PairCreateIn,
    PairUpdateIn,
    UploadCreateIn,
)
from annotation.services import registration as reg_services
from annotation.services import uploads
from annotation.services.jobs import job_payload
from annotation.services.pairs import (
    pair_create,
    pair_payload,
    pair_update,
    pair_viewer,
    slide_dzi_url,
    slide_payload,
)
from annotation.services.registration_qa import registration_checkerboard_png, registration_qa
from annotation.services.slides import (
    import_path_resolve,
    import_root,
    importable_list,
    slide_image_path,
    slides_import,
)


def documented(request=None, *, binary: bool = False, list_op: str | None = None):
    """Describe every handler of an APIView to the schema: its input serializer and a JSON (or PNG) answer."""
    answer = OpenApiTypes.BINARY if binary else OpenApiTypes.OBJECT

    def wrap(cls):
        for name in ("get", "post", "put", "patch", "delete"):
            handler = cls.__dict__.get(name)
            if handler is not None:
                body = request if name in ("post", "put", "patch") else None
                schema = extend_schema(request=body, responses={200: answer, 201: answer, 202: answer, 204: None},
                                       operation_id=list_op if name == "get" else None)
                setattr(cls, name, schema(handler))
        return cls

    return wrap


def _valid(serializer_class, data) -> dict:
    s = serializer_class(data=data)
    s.is_valid(raise_exception=True)
    return s.validated_data


def _created(pairs: list) -> list[dict]:
    return [{"slide": slide_payload(s), "job": str(j.id) if j else None} for s, j in pairs]


# -- slides ---------------------------------------------------------------------------------------------------


@documented()
class ProjectSlides(APIView):
    def get(self, request: Request, project_id: int) -> Response:
        return Response([slide_payload(s) for s in slide_list_for_user(user=request.user, project_id=project_id)])


@documented()
class SlideDetail(APIView):
    def get(self, request: Request, slide_id: int) -> Response:
        return Response(slide_payload(slide_get_for_user(user=request.user, slide_id=slide_id)))


@documented(binary=True)
class SlideImage(APIView):
    name = "thumbnail"

    def get(self, request: Request, slide_id: int, name: str | None = None) -> FileResponse:
        name = name or self.name
        # label and macro photos can carry patient identifiers: managers only
        roles = None if name == "thumbnail" else MANAGERS
        slide = slide_get_for_user(user=request.user, slide_id=slide_id, roles=roles)
        path = slide_image_path(slide=slide, name=name)
        response = FileResponse(open(path, "rb"), content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response


@documented()
class SlideDzi(APIView):
    def get(self, request: Request, slide_id: int) -> Response:
        slide = slide_get_for_user(user=request.user, slide_id=slide_id)
        return Response({"slide": slide.id, "kind": slide.kind, "dzi_url": slide_dzi_url(slide),
                         "render": (slide.display or {}).get("render", "")})


# -- uploads and imports ------------------------------------------------------------------------------------------


def _upload_for(request: Request, upload_id: str) -> uploads.UploadState:
    state = uploads.upload_get(upload_id=upload_id)
    project_get_for_user(user=request.user, project_id=state.project_id, roles=MANAGERS)
    return state


def _upload_body(state: uploads.UploadState) -> dict:
    received = uploads.upload_received(state)
    return {"id": state.id, "project": state.project_id, "filename": state.filename, "size": state.size_bytes,
            "received": received, "complete": received == state.size_bytes, "slide": state.slide_id,
            "job": state.job_id, "chunk_max_bytes": uploads.CHUNK_MAX_BYTES}


@documented(UploadCreateIn)
class UploadList(APIView):
    def post(self, request: Request) -> Response:
        data = _valid(UploadCreateIn, request.data)
        project = project_get_for_user(user=request.user, project_id=data["project"], roles=MANAGERS)
        state = uploads.upload_create(project=project, user=request.user, filename=data["filename"],
                                      size_bytes=data["size"], sha256=data["sha256"])
        return Response(_upload_body(state), status=status.HTTP_201_CREATED)


@documented(OpenApiTypes.BINARY)
class UploadDetail(APIView):
    def get(self, request: Request, upload_id: str) -> Response:
        return Response(_upload_body(_upload_for(request, upload_id)))

    def put(self, request: Request, upload_id: str) -> Response:
        state = _upload_for(request, upload_id)
        start, length = uploads.parse_content_range(request.headers.get("Content-Range", ""), state.size_bytes)
        if int(request.headers.get("Content-Length") or 0) != length:
            return Response({"code": "bad_content_range", "detail": "Content-Length must equal the range length."},
                            status=status.HTTP_400_BAD_REQUEST)
        received = uploads.upload_write_chunk(state=state, start=start, length=length, stream=request.stream)
        return Response({"id": state.id, "received": received, "complete": received == state.size_bytes})

    def delete(self, request: Request, upload_id: str) -> Response:
        uploads.upload_discard(state=_upload_for(request, upload_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


@documented()
class UploadComplete(APIView):
    def post(self, request: Request, upload_id: str) -> Response:
        state = _upload_for(request, upload_id)
        slide, job = uploads.upload_complete(state=state, user=request.user)
        return Response({"slide": slide_payload(slide), "job": str(job.id) if job else None},
                        status=status.HTTP_202_ACCEPTED)


@documented()
class ProjectImportable(APIView):
    def get(self, request: Request, project_id: int) -> Response:
        project_get_for_user(user=request.user, project_id=project_id, roles=MANAGERS)
        return Response({"files": importable_list()})


@documented(ImportIn)
class ProjectImport(APIView):
    def post(self, request: Request, project_id: int) -> Response:
        project = project_get_for_user(user=request.user, project_id=project_id, roles=MANAGERS)
        data = _valid(ImportIn, request.data)
        paths = [import_path_resolve(p) for p in data["paths"]]
        created = slides_import(project=project, paths=paths, created_by=request.user, confine_to=import_root())
        return Response({"slides": _created(created)}, status=status.HTTP_202_ACCEPTED)


# -- pairs ----------------------------------------------------------------------------------------------------


@documented(PairCreateIn)
class ProjectPairs(APIView):
    def get(self, request: Request, project_id: int) -> Response:
        return Response([pair_payload(p) for p in pair_list_for_user(user=request.user, project_id=project_id)])

    def post(self, request: Request, project_id: int) -> Response:
        project = project_get_for_user(user=request.user, project_id=project_id, roles=MANAGERS)
        data = _valid(PairCreateIn, request.data)
        pair = pair_create(project=project, name=data["name"], anatomical_id=data["anatomical"],
                           molecular_id=data["molecular"])
        return Response(pair_payload(pair), status=status.HTTP_201_CREATED)


@documented(PairUpdateIn)
class PairDetail(APIView):
    def get(self, request: Request, pair_id: int) -> Response:
        return Response(pair_payload(pair_get_for_user(user=request.user, pair_id=pair_id)))

    def patch(self, request: Request, pair_id: int) -> Response:
        pair = pair_get_for_user(user=request.user, pair_id=pair_id, roles=MANAGERS)
        data = _valid(PairUpdateIn, request.data)
        pair = pair_update(pair=pair, name=data.get("name"), anatomical_id=data.get("anatomical"),
                           molecular_id=data.get("molecular"))
        return Response(pair_payload(pair))


@documented()
class PairViewer(APIView):
    def get(self, request: Request, pair_id: int) -> Response:
        return Response(pair_viewer(pair=pair_get_for_user(user=request.user, pair_id=pair_id)))


# -- registration ------------------------------------------------------------------------------------------------


@documented()
class PairRegister(APIView):
    def post(self, request: Request, pair_id: int) -> Response:
        pair = pair_get_for_user(user=request.user, pair_id=pair_id, roles=MANAGERS)
        job = reg_services.registration_start(pair=pair, created_by=request.user)
        return Response({"job": str(job.id), "status": job.status}, status=status.HTTP_202_ACCEPTED)


@documented(AffineIn)
class PairRegistration(APIView):
    def get(self, request: Request, pair_id: int) -> Response:
        pair = pair_get_for_user(user=request.user, pair_id=pair_id)
        reg = pair.current_registration
        return Response(reg_services.registration_payload(reg, current=pair) if reg else None)

    def post(self, request: Request, pair_id: int) -> Response:
        pair = pair_get_for_user(user=request.user, pair_id=pair_id, roles=MANAGERS)
        data = _valid(AffineIn, request.data)
        reg = reg_services.registration_manual(pair=pair, affine=data["affine"], created_by=request.user)
        return Response(reg_services.registration_payload(reg, current=reg.pair), status=status.HTTP_201_CREATED)


@documented(LandmarksIn)
class PairLandmarks(APIView):
    def post(self, request: Request, pair_id: int) -> Response:
        pair = pair_get_for_user(user=request.user, pair_id=pair_id, roles=MANAGERS)
        data = _valid(LandmarksIn, request.data)
        reg = reg_services.registration_from_landmarks(pair=pair, landmarks=data["landmarks"], created_by=request.user)
        pair.refresh_from_db()
        return Response(reg_services.registration_payload(reg, current=pair), status=status.HTTP_201_CREATED)


@documented()
class PairRegistrations(APIView):
    def get(self, request: Request, pair_id: int) -> Response:
        pair = pair_get_for_user(user=request.user, pair_id=pair_id)
        return Response([reg_services.registration_payload(r, current=pair) for r in pair.registrations.order_by("-version")])


@documented()
class PairRegistrationActivate(APIView):
    def post(self, request: Request, pair_id: int, version: int) -> Response:
        pair = pair_get_for_user(user=request.user, pair_id=pair_id, roles=MANAGERS)
        reg = reg_services.registration_activate(pair=pair, version=version)
        pair.refresh_from_db()
        return Response(reg_services.registration_payload(reg, current=pair))


def _version_param(request: Request) -> int | None:
    value = request.query_params.get("version")
    return int(value) if value and value.isdigit() else None


@documented()
class PairRegistrationQA(APIView):
    def get(self, request: Request, pair_id: int) -> Response:
        pair = pair_get_for_user(user=request.user, pair_id=pair_id)
        return Response(registration_qa(pair=pair, version=_version_param(request)))


@documented(binary=True)
class PairCheckerboard(APIView):
    def get(self, request: Request, pair_id: int) -> HttpResponse:
        pair = pair_get_for_user(user=request.user, pair_id=pair_id)
        png = registration_checkerboard_png(pair=pair, version=_version_param(request))
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, max-age=600"
        return response


# -- jobs ------------------------------------------------------------------------------------------------------


@documented(list_op="jobs_list")
class JobList(APIView):
    def get(self, request: Request) -> Response:
        project = request.query_params.get("project")
        jobs = job_list_for_user(user=request.user, project_id=int(project) if project and project.isdigit() else None)
        kind = request.query_params.get("kind")
        if kind:
            jobs = jobs.filter(kind=kind)
        return Response([job_payload(j) for j in jobs[:200]])


@documented()
class JobDetail(APIView):
    def get(self, request: Request, job_id) -> Response:
        return Response(job_payload(job_get_for_user(user=request.user, job_id=job_id)))
