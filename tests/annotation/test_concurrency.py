"""20 clients edit the same annotations at once through the API: no acknowledged write is lost."""

from __future__ import annotations

import json
import random
import threading

import pytest
from django.db import connection
from django.test import Client

from annotation.models import Annotation, AnnotationEvent, Membership, Role
from tests.annotation.conftest import make_user, new_item

CLIENTS = 20
WRITES_PER_CLIENT = 3


def _client_loop(user, ids: list[str], seed: int, acked: list, conflicts: list, errors: list) -> None:
    rng = random.Random(seed)
    client = Client()
    client.force_login(user)
    known = {i: 1 for i in ids}
    try:
        done = attempts = 0
        while done < WRITES_PER_CLIENT and attempts < 200:
            attempts += 1
            targets = rng.sample(ids, 2)
            stamp = {"writer": seed, "n": attempts}
            items = [{"id": i, "version": known[i], "properties": stamp} for i in targets]
            response = client.post("/api/annotations/bulk/", json.dumps({"items": items}), content_type="application/json")
            body = response.json()
            if response.status_code == 200:
                for result in body["results"]:
                    acked.append((result["id"], result["version"], stamp))
                    known[result["id"]] = result["version"]
                done += 1
            elif response.status_code == 409:
                for conflict in body["conflicts"]:
                    conflicts.append(conflict)
                    known[conflict["id"]] = conflict["current"]["version"]
            else:
                errors.append((response.status_code, body))
                return
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_clients_lose_no_acknowledged_write(world):
    from annotation.serializers.annotations import parse_bulk_request
    from annotation.services.annotations import annotation_bulk_apply

    world.project.blind_mode = False
    world.project.save()
    proposals = [new_item(world, source="model", task=None) for _ in range(3)]
    annotation_bulk_apply(actor=world.manager, items=parse_bulk_request({"items": proposals})[0])
    ids = [p["id"] for p in proposals]
    editors = [make_user(f"mgr{i}") for i in range(CLIENTS)]
    Membership.objects.bulk_create([Membership(project=world.project, user=u, role=Role.MANAGER) for u in editors])
    acked, conflicts, errors = [], [], []
    threads = [threading.Thread(target=_client_loop, args=(u, ids, n, acked, conflicts, errors)) for n, u in enumerate(editors)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors
    assert len(acked) == CLIENTS * WRITES_PER_CLIENT * 2
    events = {(str(e.annotation_id), e.version): e for e in AnnotationEvent.objects.filter(action="update")}
    for ann_id, version, stamp in acked:
        assert events[(ann_id, version)].after["properties"] == stamp  # every 200 is in the history as sent
    assert len(events) == len(acked)  # and nothing else was written
    for ann_id in ids:
        row = Annotation.objects.get(id=ann_id)
        assert row.version == 1 + sum(1 for a in acked if a[0] == ann_id)
    for conflict in conflicts:  # every 409 carried the row as it was then
        assert conflict["current"]["id"] == conflict["id"] and conflict["current"]["version"] >= 1
