"""Build a project with an ingested synthetic H&E + IF pair, tasks and truth-derived labels (tests only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from annotation.geometry import validate_geometry
from annotation.models import Annotation, LabelClass, Membership, Project, Slide, SlidePair, Task
from annotation.services.slides import slide_create, slide_ingest
from mlbackend.engine.synthetic import CLASSES, Scene, write_pair

_CACHE: dict[tuple[int, int], Path] = {}


@dataclass
class Fixture:
    project: Project
    pair: SlidePair
    scene: Scene
    classes: dict[str, LabelClass]


def generated_pair_files(size_px: int, seed: int) -> Path:
    """Write (once per size/seed) a synthetic pair under SLIDE_ROOT/generated/."""
    folder = Path(settings.SLIDE_ROOT) / "generated" / f"pair-{size_px}-{seed}"
    if not (folder / "transform.json").exists():
        write_pair(folder, size_px, size_px, seed)
    return folder


def _ingested(project: Project, relative: str, name: str) -> Slide:
    slide, job = slide_create(project=project, file_path=relative, name=name)
    slide_ingest(job_id=str(job.id))
    slide.refresh_from_db()
    assert slide.status == Slide.Status.READY, slide.status_reason
    return slide


def project_with_pair(*, size_px: int = 1024, seed: int = 3, manager=None, annotators=()) -> Fixture:
    """A project with the synthetic classes, an ingested pair and its members."""
    folder = generated_pair_files(size_px, seed)
    project = Project.objects.create(name=f"ml-{size_px}-{seed}", redundancy_k=1)
    classes = {name: LabelClass.objects.create(project=project, name=name, order=i) for i, name in enumerate(CLASSES)}
    rel = folder.relative_to(settings.SLIDE_ROOT)
    he_name = next(p.name for p in folder.iterdir() if p.suffix == ".svs")
    if_name = next(p.name for p in folder.iterdir() if p.name.endswith(".ome.tiff") or p.name.endswith(".ome.tif"))
    he = _ingested(project, f"{rel}/{he_name}", "H&E")
    mol = _ingested(project, f"{rel}/{if_name}", "IF")
    pair = SlidePair.objects.create(project=project, name="pair", anatomical=he, molecular=mol)
    if manager is not None:
        Membership.objects.create(project=project, user=manager, role="manager")
    for user in annotators:
        Membership.objects.create(project=project, user=user, role="annotator")
    return Fixture(project=project, pair=pair, scene=Scene(width=size_px, height=size_px, seed=seed), classes=classes)


def task_with_truth_labels(fx: Fixture, rect: tuple[int, int, int, int], *, mode: str = "exhaustive", author=None) -> Task:
    """A task over `rect` whose labels are the exact ground-truth points of the scene."""
    x0, y0, x1, y1 = rect
    region = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}
    task = Task.objects.create(project=fx.project, pair=fx.pair, region=region, min_x=x0, min_y=y0, max_x=x1, max_y=y1,
                               label_mode=mode)
    task.classes.set(fx.classes.values())
    rows = []
    for cell in fx.scene.cells_in(x0, y0, x1 - x0, y1 - y0):
        info = validate_geometry({"type": "Point", "coordinates": [cell.x, cell.y]})
        rows.append(Annotation(project=fx.project, pair=fx.pair, task=task, label_class=fx.classes[cell.cls],
                               geom_type="Point", geometry=info.geometry, min_x=info.min_x, min_y=info.min_y,
                               max_x=info.max_x, max_y=info.max_y, cx=info.cx, cy=info.cy, author=author))
    Annotation.objects.bulk_create(rows)
    return task
