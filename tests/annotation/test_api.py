"""One API test per endpoint for shape (permissions are in test_permission_matrix)."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from annotation.models import Annotation, Assignment, Task
from tests.annotation.conftest import new_item, point

pytestmark = pytest.mark.django_db


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def patch(client, url, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


def test_creator_becomes_manager_and_can_configure_project(world):
    client = as_user(world.ann3)
    created = post(client, "/api/projects/", {"name": "Mine", "redundancy_k": 2, "blind_mode": False})
    assert created.status_code == 201 and created.json()["role"] == "manager"
    pid = created.json()["id"]
    assert patch(client, f"/api/projects/{pid}/", {"redundancy_k": 4}).json()["redundancy_k"] == 4
    assert {p["id"] for p in client.get("/api/projects/").json()["results"]} == {world.project.id, pid}
    assert client.get(f"/api/projects/{world.project.id}/").json()["role"] == "annotator"
    assert post(client, "/api/projects/", {"name": ""}).json()["code"] == "invalid"
    assert client.delete(f"/api/projects/{pid}/").status_code == 204


def test_classes_crud_and_duplicate_names(world):
    client = as_user(world.manager)
    made = post(client, "/api/classes/", {"project": world.project.id, "name": "c", "color": "#00ff00", "hotkey": "3", "order": 5,
                                          "marker_channel": "CD31", "marker_hint": "red ring"})
    assert made.status_code == 201 and made.json()["marker_channel"] == "CD31"
    assert post(client, "/api/classes/", {"project": world.project.id, "name": "c"}).json()["code"] == "duplicate"
    assert patch(client, f"/api/classes/{made.json()['id']}/", {"color": "bad"}).json()["code"] == "invalid"
    names = [c["name"] for c in client.get(f"/api/classes/?project={world.project.id}").json()["results"]]
    assert names == ["a", "b", "c"]
    used = world.classes[0]
    post(as_user(world.ann1), "/api/annotations/bulk/", {"items": [new_item(world, label_class=used.id)]})
    assert client.delete(f"/api/classes/{used.id}/").json()["code"] == "in_use"


def test_memberships_add_change_remove_and_keep_a_manager(world):
    client = as_user(world.manager)
    added = post(client, "/api/memberships/", {"project": world.project.id, "username": world.outsider.username, "role": "annotator"})
    assert added.status_code == 201 and added.json()["username"] == world.outsider.username
    mid = added.json()["id"]
    assert patch(client, f"/api/memberships/{mid}/", {"role": "reviewer"}).json()["role"] == "reviewer"
    assert client.delete(f"/api/memberships/{mid}/").status_code == 204
    mine = [m for m in client.get(f"/api/memberships/?project={world.project.id}").json()["results"] if m["user"] == world.manager.id][0]
    assert patch(client, f"/api/memberships/{mine['id']}/", {"role": "annotator"}).json()["code"] == "last_manager"


def test_generate_distribute_and_work_a_task(world):
    Task.objects.all().delete()
    manager = as_user(world.manager)
    made = post(manager, "/api/tasks/generate/", {"pair": world.pair.id, "field_um": 2500, "classes": [world.classes[0].id],
                                                  "distribute": True})
    assert made.status_code == 201 and made.json()["created"] == 4 and made.json()["assignments_created"] == 8
    listed = manager.get(f"/api/tasks/?project={world.project.id}&pair={world.pair.id}").json()
    assert listed["count"] == 4 and listed["results"][0]["bbox"] == [0.0, 0.0, 5000.0, 5000.0]
    annotator = as_user(world.ann1)
    nxt = annotator.get(f"/api/assignments/next/?project={world.project.id}").json()
    assert nxt["assignment"]["annotator"] == world.ann1.id and nxt["task"]["id"] == nxt["assignment"]["task"]
    aid = nxt["assignment"]["id"]
    assert post(annotator, f"/api/assignments/{aid}/submit/", {}).json()["code"] == "invalid_transition"
    assert post(annotator, f"/api/assignments/{aid}/start/", {}).json()["status"] == "in_progress"
    assert post(annotator, f"/api/assignments/{aid}/submit/", {}).json()["status"] == "submitted"
    assert post(manager, "/api/tasks/distribute/", {"project": world.project.id}).json() == {"assignments_created": 0}


def test_manual_assignment_and_task_edit_archive(world):
    manager = as_user(world.manager)
    made = post(manager, "/api/assignments/", {"task": world.task.id, "annotator": world.ann3.id})
    assert made.status_code == 201 and made.json()["username"] == world.ann3.username
    assert post(manager, "/api/assignments/", {"task": world.task.id, "annotator": world.ann3.id}).json()["code"] == "duplicate"
    assert manager.delete(f"/api/assignments/{made.json()['id']}/").status_code == 204
    edited = patch(manager, f"/api/tasks/{world.task.id}/", {"priority": 7, "classes": [world.classes[1].id]}).json()
    assert edited["priority"] == 7 and edited["classes"] == [world.classes[1].id]
    assert post(manager, f"/api/tasks/{world.task.id}/archive/", {}).json()["status"] == "archived"
    assert not Assignment.objects.filter(task=world.task, status="assigned").exists()


def test_bulk_endpoint_shapes_conflict_replay_and_limits(world):
    client = as_user(world.ann1)
    item = new_item(world)
    body = {"request_id": str(uuid.uuid4()), "items": [item]}
    first = post(client, "/api/annotations/bulk/", body)
    assert first.status_code == 200
    result = first.json()["results"][0]
    assert result["id"] == item["id"] and result["result"] == "created" and result["version"] == 1
    assert post(client, "/api/annotations/bulk/", body).json()["replayed"] is True
    assert Annotation.objects.count() == 1
    post(client, "/api/annotations/bulk/", {"items": [{"id": item["id"], "version": 1, "geometry": point(3, 3)}]})
    stale = post(client, "/api/annotations/bulk/", {"items": [{"id": item["id"], "version": 1, "geometry": point(4, 4)}]})
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"
    assert stale.json()["conflicts"][0]["current"]["geometry"]["coordinates"] == [3.0, 3.0]
    bad = post(client, "/api/annotations/bulk/", {"items": [new_item(world, geometry={"type": "Point", "coordinates": [1e12, 0]})]})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_geometry"
    many = post(client, "/api/annotations/bulk/", {"items": [new_item(world) for _ in range(1001)]})
    assert many.status_code == 413 and many.json()["code"] == "payload_too_large"
    huge = client.post("/api/annotations/bulk/", b"x" * (4 * 1024 * 1024 + 1), content_type="application/json")
    assert huge.status_code == 413
    assert post(client, "/api/annotations/bulk/", {"nope": 1}).json()["code"] == "invalid"
    for raw in (b'{"items": [', b'{"items": [{"geometry": {"type": "Point", "coordinates": [NaN, 1]}}]}'):
        broken = client.post("/api/annotations/bulk/", raw, content_type="application/json")
        assert broken.status_code == 400 and broken.json()["code"] == "parse_error"  # not JSON: nothing is saved


def test_viewport_detail_history_restore_and_accept_in_view(world):
    annotator = as_user(world.ann1)
    item = new_item(world, geometry=point(50, 60))
    post(annotator, "/api/annotations/bulk/", {"items": [item]})
    post(as_user(world.manager), "/api/annotations/bulk/", {"items": [new_item(world, source="model", task=None)]})
    view = annotator.get(f"/api/annotations/?pair={world.pair.id}&bbox=0,0,200,200&zoom=1")
    assert view["Content-Type"] == "application/json"
    assert view.json()["mode"] == "features" and view.json()["count"] == 2
    assert annotator.get(f"/api/annotations/?pair={world.pair.id}&bbox=0,0,1").json()["code"] == "invalid"
    assert annotator.get(f"/api/annotations/{item['id']}/").json()["geometry"]["coordinates"] == [50.0, 60.0]
    post(annotator, "/api/annotations/bulk/", {"items": [{"op": "delete", "id": item["id"], "version": 1}]})
    assert annotator.get(f"/api/annotations/?pair={world.pair.id}&bbox=0,0,200,200").json()["count"] == 1
    restored = post(annotator, f"/api/annotations/{item['id']}/restore/", {"version": 2})
    assert restored.json()["results"][0]["annotation"]["is_deleted"] is False
    history = annotator.get(f"/api/annotations/{item['id']}/history/").json()
    assert [(e["action"], e["version"]) for e in history] == [("create", 1), ("delete", 2), ("restore", 3)]
    accepted = post(annotator, "/api/annotations/accept-in-view/", {"pair": world.pair.id, "bbox": "0,0,500,500"}).json()
    assert accepted["count"] == 1
    assert annotator.get("/api/annotations/not-a-uuid/").status_code == 404


def test_stats_endpoint_shape(world):
    post(as_user(world.ann1), "/api/annotations/bulk/", {"items": [new_item(world)]})
    body = as_user(world.manager).get(f"/api/projects/{world.project.id}/stats/?pair={world.pair.id}").json()
    assert body["annotations"]["total"] == 1 and body["annotations"]["by_class"] == {str(world.classes[0].id): 1}
    assert {"tasks", "assignments", "pairs", "per_task", "annotators"} <= set(body)
    assert body["assignments"]["by_status"] == {"assigned": 2}


def test_openapi_schema_lists_the_annotation_endpoints(world):
    schema = as_user(world.manager).get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/annotations/bulk/", "/api/annotations/{id}/history/", "/api/projects/{id}/stats/",
                 "/api/tasks/generate/", "/api/assignments/next/"):
        assert path in paths


def test_lists_accept_page_size_and_limit(world):
    from annotation.models import LabelClass

    LabelClass.objects.bulk_create([LabelClass(project=world.project, name=f"x{i}", order=9) for i in range(120)])
    client = as_user(world.manager)
    assert len(client.get(f"/api/classes/?project={world.project.id}").json()["results"]) == 100
    assert len(client.get(f"/api/classes/?project={world.project.id}&page_size=500").json()["results"]) == 122
    assert len(client.get(f"/api/classes/?project={world.project.id}&limit=5").json()["results"]) == 5
