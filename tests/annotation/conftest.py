"""A small project world: roles, a slide pair, classes, a task with assignments, helpers for bulk items."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest


@dataclass
class World:
    project: object
    other_project: object
    pair: object
    other_pair: object
    classes: list
    task: object
    admin: object
    manager: object
    reviewer: object
    ann1: object
    ann2: object
    ann3: object
    outsider: object


def make_pair(project, name: str = "pair", width: int = 10000, height: int = 8000, mpp: float = 0.5):
    from annotation.models import Slide, SlidePair

    he = Slide.objects.create(project=project, name=f"{name}-he", file_path=f"{name}.svs", width=width, height=height,
                              mpp_x=mpp, mpp_y=mpp, status=Slide.Status.READY)
    return SlidePair.objects.create(project=project, name=name, anatomical=he)


def make_user(name: str, **extra):
    """A user without a password hash (hashing costs a second each; tests log in with force_login)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create(username=f"{name}-{uuid.uuid4().hex[:6]}", **extra)


@pytest.fixture
def world(db) -> World:
    from annotation.geometry import box_polygon
    from annotation.models import Assignment, LabelClass, Membership, Project, Role, Task

    project = Project.objects.create(name="P", redundancy_k=2, blind_mode=True)
    other = Project.objects.create(name="Other", redundancy_k=1)
    users = {name: make_user(name) for name in ("manager", "reviewer", "ann1", "ann2", "ann3", "outsider")}
    admin = make_user("admin", is_staff=True)
    for name, role in (("manager", Role.MANAGER), ("reviewer", Role.REVIEWER), ("ann1", Role.ANNOTATOR),
                       ("ann2", Role.ANNOTATOR), ("ann3", Role.ANNOTATOR)):
        Membership.objects.create(project=project, user=users[name], role=role)
    Membership.objects.create(project=other, user=users["outsider"], role=Role.MANAGER)
    pair = make_pair(project)
    other_pair = make_pair(other, "other")
    classes = [LabelClass.objects.create(project=project, name=n, order=i) for i, n in enumerate(("a", "b"))]
    task = Task.objects.create(project=project, pair=pair, name="t1", region=box_polygon(0, 0, 5000, 5000),
                               min_x=0, min_y=0, max_x=5000, max_y=5000)
    task.classes.set(classes)
    Assignment.objects.create(task=task, annotator=users["ann1"])
    Assignment.objects.create(task=task, annotator=users["ann2"])
    return World(project=project, other_project=other, pair=pair, other_pair=other_pair, classes=classes, task=task,
                 admin=admin, **users)


def point(x: float = 100, y: float = 100) -> dict:
    return {"type": "Point", "coordinates": [x, y]}


def square(x: float, y: float, s: float = 10) -> dict:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]]}


def new_item(world: World, **extra) -> dict:
    item = {"op": "upsert", "id": str(uuid.uuid4()), "version": 0, "pair": world.pair.id, "task": world.task.id,
            "label_class": world.classes[0].id, "geometry": point()}
    item.update(extra)
    return item


@pytest.fixture
def api(client):
    """Log a user in on the Django test client and return it (JSON helpers included)."""

    def login(user):
        client.force_login(user)
        return client

    return login
