"""A small, real Laypath world for browser tests: users, a project with classes, a generated and ingested
H&E/IF pair registered with its known transform, a task assigned to an annotator and model proposals."""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model

from annotation.models import Annotation, Assignment, LabelClass, Membership, Project, SlidePair, Task
from annotation.services.registration import registration_record
from annotation.services.slides import slide_create, slide_ingest, slide_root

PASSWORD = "pw-for-browser-tests-1"
CLASSES = [
    ("podocyte", "#2ecc71", "1", "WT1", "Nucleus glows green in the WT1 channel"),
    ("endothelial", "#e74c3c", "2", "CD31", "Nucleus ringed red in the CD31 channel"),
    ("mesangial", "#f1c40f", "3", "PDGFRB", "Nucleus glows yellow in the PDGFRB channel"),
]


@dataclass(frozen=True)
class World:
    project_id: int
    other_project_id: int
    pair_id: int
    task_id: int
    other_task_id: int
    class_ids: list[int]
    proposal_ids: list[str]
    region: tuple[int, int, int, int]


def user(username: str, *, staff: bool = False):
    """A user with the shared test password."""
    u = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=staff, is_superuser=staff)
    return u


def write_generated_pair(folder: Path, width: int = 1280, height: int = 960, seed: int = 3) -> dict:
    """Render a small synthetic pair (no warp) into folder; returns the paths as strings."""
    from mlbackend.engine.synthetic.pair import write_pair  # test helper: tests may import the engine

    paths = write_pair(folder, width, height, seed, warp_um=0.0, rotation_deg=9.0, extra_scale=1.0)
    return {"he": str(paths.he_path), "if": str(paths.if_path), "transform": str(paths.transform_path),
            "truth": str(paths.truth_path), "mpp": paths.mpp_he}


def _store(project: Project, source: Path):
    folder = slide_root() / "store" / str(project.id) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    target = folder / source.name
    shutil.copy2(source, target)
    slide, job = slide_create(project=project, file_path=str(target.relative_to(slide_root())), name=source.name)
    slide_ingest(job_id=str(job.id))
    slide.refresh_from_db()
    return slide


def _project(name: str) -> tuple[Project, list[LabelClass]]:
    project = Project.objects.create(
        name=name, instructions="Click each nucleus you can classify and press its number key. Use F to flick to the IF.",
        redundancy_k=1,
    )
    classes = [
        LabelClass.objects.create(project=project, name=n, color=c, hotkey=k, order=i, marker_channel=m, marker_hint=hint)
        for i, (n, c, k, m, hint) in enumerate(CLASSES)
    ]
    return project, classes


def _proposals(project: Project, pair: SlidePair, task: Task, truth: Path, region, classes, n: int = 4) -> list[str]:
    x0, y0, x1, y1 = region
    feats = json.loads(Path(truth).read_text())["features"]
    ids = []
    for f in feats:
        g = f["geometry"]
        ring = g["coordinates"][0] if g["type"] == "Polygon" else [g["coordinates"]]
        cx = sum(p[0] for p in ring) / len(ring)
        cy = sum(p[1] for p in ring) / len(ring)
        if not (x0 + 40 < cx < x1 - 40 and y0 + 40 < cy < y1 - 40):
            continue
        a = Annotation.objects.create(
            project=project, pair=pair, task=task, label_class=classes[len(ids) % len(classes)], geom_type="Point",
            geometry={"type": "Point", "coordinates": [cx, cy]}, min_x=cx, min_y=cy, max_x=cx, max_y=cy, cx=cx, cy=cy,
            source="model", status="proposed", confidence=0.8,
        )
        ids.append(str(a.id))
        if len(ids) >= n:
            break
    return ids


def build_world(tmp: Path) -> World:
    """Users (manager, lay1, outsider, admin), two projects, one generated pair with a task for lay1."""
    manager, lay1, outsider = user("manager1"), user("lay1"), user("outsider")
    user("admin1", staff=True)
    project, classes = _project("Glomeruli (browser test)")
    other, other_classes = _project("Another lab's project")
    Membership.objects.create(project=project, user=manager, role="manager")
    Membership.objects.create(project=project, user=lay1, role="annotator")
    Membership.objects.create(project=other, user=outsider, role="annotator")
    gen = write_generated_pair(tmp / "gen")
    he, mol = _store(project, Path(gen["he"])), _store(project, Path(gen["if"]))
    pair = SlidePair.objects.create(project=project, name="generated pair", anatomical=he, molecular=mol)
    transform = json.loads(Path(gen["transform"]).read_text())
    registration_record(pair=pair, transform=transform, status="ok", source="manual", metrics={"error_um": 1.2})
    w, h = he.width, he.height
    region = (w // 4, h // 4, w // 4 + 480, h // 4 + 360)
    task = _task(project, pair, region, classes, "Field 1")
    Assignment.objects.create(task=task, annotator=lay1)
    props = _proposals(project, pair, task, Path(gen["truth"]), region, classes)
    o_he = _store(other, Path(gen["he"]))
    o_pair = SlidePair.objects.create(project=other, name="other pair", anatomical=o_he)
    o_task = _task(other, o_pair, region, other_classes, "Other field")
    Assignment.objects.create(task=o_task, annotator=outsider)
    return World(project.id, other.id, pair.id, task.id, o_task.id, [c.id for c in classes], props, region)


def _task(project, pair, region, classes, name: str) -> Task:
    x0, y0, x1, y1 = region
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    task = Task.objects.create(project=project, pair=pair, name=name, region={"type": "Polygon", "coordinates": [ring]},
                               min_x=x0, min_y=y0, max_x=x1, max_y=y1)
    task.classes.set(classes)
    return task


def build_two_projects() -> World:
    """No slide files: lay1 in project A, a task of project B (another lab) that lay1 must not open."""
    from annotation.models import Slide

    lay1, outsider = user("lay1"), user("outsider")
    project, classes = _project("Glomeruli (browser test)")
    other, other_classes = _project("Another lab's project")
    Membership.objects.create(project=project, user=lay1, role="annotator")
    Membership.objects.create(project=other, user=outsider, role="annotator")
    region = (0, 0, 256, 256)
    tasks = []
    for p, cls, who in ((project, classes, lay1), (other, other_classes, outsider)):
        slide = Slide.objects.create(project=p, name="he.svs", file_path="missing/he.svs", status="ready", width=1000, height=1000)
        pair = SlidePair.objects.create(project=p, name="pair", anatomical=slide)
        task = _task(p, pair, region, cls, "Field")
        Assignment.objects.create(task=task, annotator=who)
        tasks.append(task)
    return World(project.id, other.id, tasks[0].pair_id, tasks[0].id, tasks[1].id, [c.id for c in classes], [], region)
