"""Schemathesis over the OpenAPI schema against the live server, as each role: no 5xx, no cross-project leak."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx
import pytest
from django.test import Client

from annotation.geometry import box_polygon
from annotation.models import LabelClass, Membership, Project, Task
from tests.annotation.conftest import make_pair, make_user
from tests.support.procs import ROOT, asgi_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
CSRF = "c" * 32
SECRET_MARKERS = ["zz-secret-project-7f3a", "zz-secret-pair-7f3a", "zz-secret-class-7f3a", "zz-secret-task-7f3a"]


def _seed() -> dict[str, object]:
    mine = Project.objects.create(name="fuzz-visible")
    other = Project.objects.create(name=SECRET_MARKERS[0], description=SECRET_MARKERS[0])
    make_pair(mine, "visible")
    secret_pair = make_pair(other, SECRET_MARKERS[1])
    LabelClass.objects.create(project=other, name=SECRET_MARKERS[2])
    Task.objects.create(project=other, pair=secret_pair, name=SECRET_MARKERS[3], region=box_polygon(0, 0, 500, 500),
                        min_x=0, min_y=0, max_x=500, max_y=500)
    users = {}
    for role in ("annotator", "reviewer", "manager"):
        users[role] = make_user(f"fuzz-{role}")
        Membership.objects.create(project=mine, user=users[role], role=role)
    users["other-project-member"] = make_user("fuzz-outsider")
    Membership.objects.create(project=Project.objects.create(name="fuzz-third"), user=users["other-project-member"],
                              role="manager")
    return users


def _session(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def test_fuzzed_requests_as_every_role_never_get_a_5xx_or_another_projects_data():
    sys.path.insert(0, str(ROOT))
    from benchmarks.fuzz import fuzz_roles

    users = _seed()
    roles = {name: {"cookies": {"sessionid": _session(u), "csrftoken": CSRF}, "headers": {"X-CSRFToken": CSRF}}
             for name, u in users.items()}
    examples = int(os.environ.get("FUZZ_EXAMPLES", "2"))
    with asgi_server({"API_THROTTLE_USER": "100000/min"}) as base:
        raw = httpx.get(f"{base}/api/schema/?format=json", cookies=roles["manager"]["cookies"], timeout=60).json()
        report = fuzz_roles(base, raw, roles, SECRET_MARKERS, examples)
    if os.environ.get("FUZZ_REPORT"):
        Path(os.environ["FUZZ_REPORT"]).write_text(json.dumps(report))
    assert all(r["cases"] > 20 for r in report.values()), report
    assert sum(r["5xx"] for r in report.values()) == 0, {k: v["samples"] for k, v in report.items()}
    assert sum(r["leaks"] for r in report.values()) == 0, {k: v["samples"] for k, v in report.items()}
