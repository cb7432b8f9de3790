"""The demo project the quick start creates (idempotent)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.models import LabelClass, Membership, Project, Role

logger = logging.getLogger(__name__)
DEMO_PASSWORD = "laypath-demo"
DEMO_PROJECT = "Demo: glomerular cells"
DEMO_USERS = [
    ("admin", "admin"),
    ("manager", Role.MANAGER),
    ("reviewer", Role.REVIEWER),
    ("lay1", Role.ANNOTATOR),
    ("lay2", Role.ANNOTATOR),
    ("lay3", Role.ANNOTATOR),
]
DEMO_CLASSES = [
    ("podocyte", "#2ecc71", "1", "WT1", "Nucleus glows green in the WT1 channel"),
    ("endothelial", "#e74c3c", "2", "CD31", "Nucleus ringed red in the CD31 channel"),
    ("mesangial", "#f1c40f", "3", "PDGFRB", "Nucleus glows yellow in the PDGFRB channel"),
]


@dataclass(frozen=True)
class DemoResult:
    project_id: int
    project_name: str
    users: list[tuple[str, str]]


@transaction.atomic
def _demo_records() -> Project:
    User = get_user_model()
    project, _ = Project.objects.get_or_create(
        name=DEMO_PROJECT,
        defaults={
            "description": "Label nuclei of three glomerular cell types with the IF overlay.",
            "instructions": "Click each nucleus you can classify and press its number key. "
            "Use the IF overlay (key F) to see which marker a nucleus carries.",
            "redundancy_k": 3,
        },
    )
    for username, role in DEMO_USERS:
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.is_staff = user.is_superuser = role == "admin"
            user.save()
        if role != "admin":
            Membership.objects.get_or_create(project=project, user=user, defaults={"role": role})
    for order, (name, color, hotkey, channel, hint) in enumerate(DEMO_CLASSES):
        LabelClass.objects.get_or_create(
            project=project,
            name=name,
            defaults={"color": color, "hotkey": hotkey, "order": order, "marker_channel": channel, "marker_hint": hint},
        )
    return project


def demo_setup(*, log: Callable[[str], None] = logger.info) -> DemoResult:
    """Create demo users, project and classes (slides are added by mlbackend's demo command)."""
    project = _demo_records()
    log(f"demo project {project.name!r} ready")
    return DemoResult(project_id=project.id, project_name=project.name, users=[(u, str(r)) for u, r in DEMO_USERS])
