"""Demo slide pair for the quick start (generated, never downloaded)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from annotation.models import Project, SlidePair
from annotation.services.pairs import pair_create
from annotation.services.slides import slide_ingest, slides_import

logger = logging.getLogger(__name__)


def demo_pair_ensure(*, project_id: int, size_px: int, seed: int, log: Callable[[str], None] = logger.info) -> None:
    """Generate a synthetic H&E + IF pair and import it into the demo project if it has none yet.

    The files go under SLIDE_ROOT/demo/; both slides are ingested here, and the pair's registration job is
    queued for the worker (it runs as soon as the worker starts).
    """
    project = Project.objects.get(id=project_id)
    if SlidePair.objects.filter(project=project).exists():
        log("demo project already has a slide pair")
        return
    width, height = size_px, max(256, size_px * 3 // 4)
    folder = Path(settings.SLIDE_ROOT) / "demo" / f"synthetic-{width}x{height}-seed{seed}"
    he_path, if_path = _generate(folder, width, height, seed, log)
    created = slides_import(project=project, paths=[he_path, if_path])
    for _slide, job in created:
        if job is not None:
            slide_ingest(job_id=str(job.id))
    (he, _), (mol, _) = created
    he.refresh_from_db()
    mol.refresh_from_db()
    if he.status != "ready" or mol.status != "ready":
        log(f"demo slides failed to ingest: {he.status_reason or mol.status_reason}")
        return
    pair = pair_create(project=project, name="Synthetic glomerulus (H&E + IF)", anatomical_id=he.id,
                       molecular_id=mol.id)
    log(f"demo pair {pair.id} created; its registration job runs on the worker")
    _demo_tasks(project, pair, log)


def _demo_tasks(project: Project, pair: SlidePair, log: Callable[[str], None]) -> None:
    """Cut the pair into 150 um fields (sparse labels, every class) and give each to k annotators."""
    from annotation.models import LabelClass
    from annotation.services.tasks import GridSpec, TaskSettings, task_distribute, task_generate_grid

    classes = tuple(LabelClass.objects.filter(project=project).values_list("id", flat=True))
    tasks = task_generate_grid(actor=None, pair=pair, spec=GridSpec(field_um=150.0),
                               settings=TaskSettings(label_mode="sparse", class_ids=classes))
    assignments = task_distribute(actor=None, project=project)
    log(f"{len(tasks)} tasks generated, {len(assignments)} assignments for the demo annotators")


def _generate(folder: Path, width: int, height: int, seed: int, log: Callable[[str], None]) -> tuple[Path, Path]:
    from mlbackend.engine.synthetic.pair import HE_NAME, IF_NAME, TRANSFORM_NAME, write_pair

    he_path, if_path = folder / HE_NAME, folder / IF_NAME
    if he_path.exists() and if_path.exists() and (folder / TRANSFORM_NAME).exists():
        log(f"reusing the generated demo pair in {folder}")
        return he_path, if_path
    log(f"generating a synthetic {width}x{height} H&E + IF pair (seed {seed}); this takes a minute or two")
    t0 = time.perf_counter()
    written = write_pair(folder, width, height, seed)
    log(f"generated {written.n_cells} cells in {time.perf_counter() - t0:.0f} s")
    return written.he_path, written.if_path
