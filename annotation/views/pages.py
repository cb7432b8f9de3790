"""Server-rendered shells; the browser modules in frontend/ do the rest through the REST API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from annotation.selectors.projects import project_list_for_user, user_role
from annotation.services.system import health_report


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, broker and worker state as JSON (200 when all are up, 503 otherwise)."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = [
        {"project": p, "role": user_role(user=request.user, project_id=p.id)}
        for p in project_list_for_user(user=request.user)
    ]
    return render(request, "home.html", {"projects": projects})


@login_required
def app_page(request: HttpRequest, page: str = "home", **kwargs) -> HttpResponse:
    """Shell page for a frontend screen; the screen module reads ids from data attributes."""
    return render(request, "app.html", {"page": page, "params": kwargs})
