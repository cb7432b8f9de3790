"""A manager sets up a project in the browser: classes, members, imported generated pair, tasks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from annotation.models import Assignment, Project, Slide, SlidePair, Task
from tests.browser.conftest import login
from tests.browser.world import user, write_generated_pair
from tests.support.procs import asgi_server, celery_worker

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def import_folder(settings, tmp_path):
    settings.SLIDE_ROOT = tmp_path / "slides"
    settings.SLIDE_IMPORT_ROOT = tmp_path / "slides" / "import"
    folder = settings.SLIDE_IMPORT_ROOT / "batch1"
    folder.mkdir(parents=True)
    gen = write_generated_pair(tmp_path / "gen", 1024, 768)
    shutil.copy2(gen["he"], folder / "case7-he.svs")
    shutil.copy2(gen["if"], folder / "case7-if.ome.tif")
    return folder


def test_manager_creates_project_imports_generated_pair_and_distributes_tasks(import_folder, browser):
    user("manager1")
    user("lay1")
    with asgi_server() as base, celery_worker():
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        login(page, base, "manager1")
        page.click("[data-testid=new-project-link]")
        page.fill("[data-testid=proj-name]", "Kidney batch 7")
        page.fill("[data-testid=proj-instructions]", "Click every podocyte nucleus you are sure of.")
        page.fill("[data-testid=proj-k]", "1")
        page.fill("[data-testid=cls-name]", "podocyte")
        page.fill("[data-testid=cls-hotkey]", "1")
        page.fill("[data-testid=cls-channel]", "WT1")
        page.fill("[data-testid=cls-hint]", "Nucleus glows green in WT1")
        page.click("[data-testid=proj-create]")
        page.wait_for_selector("[data-testid=project-name]")
        project = Project.objects.get(name="Kidney batch 7")
        assert list(project.label_classes.values_list("name", "hotkey", "marker_channel")) == [("podocyte", "1", "WT1")]
        # members
        page.click("[data-testid=tab-members]")
        page.fill("[data-testid=member-username]", "lay1")
        page.click("[data-testid=member-add]")
        page.wait_for_selector("[data-testid=members-tab] td:has-text('lay1')")
        # import the generated pair from the server folder; the real worker ingests it
        page.click("[data-testid=tab-slides]")
        page.wait_for_selector("[data-testid=importable] input[type=checkbox]")
        for box in page.query_selector_all("[data-testid=importable] input[type=checkbox]"):
            box.check()
        page.click("[data-testid=import-go]")
        for _ in range(120):
            if Slide.objects.filter(project=project, status="ready").count() == 2:
                break
            page.wait_for_timeout(1000)
        assert Slide.objects.filter(project=project, status="ready").count() == 2
        page.click("[data-testid=tab-overview]")
        page.click("[data-testid=tab-slides]")
        page.wait_for_selector("[data-testid=pair-if] option:has-text('case7-if')", state="attached")
        page.select_option("[data-testid=pair-he]", label="case7-he.svs")
        page.select_option("[data-testid=pair-if]", label="case7-if.ome.tif")
        page.fill("[data-testid=pair-name]", "case 7")
        page.click("[data-testid=pair-create]")
        page.wait_for_selector("[data-testid=pairs] td:has-text('case 7')")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "manage-slides.png"), full_page=True)
        assert SlidePair.objects.filter(project=project, name="case 7").count() == 1
        # tasks: generate a grid over the pair and distribute to k annotators
        page.click("[data-testid=tab-tasks]")
        page.fill("[data-testid=gen-field-um]", "80")
        page.click("[data-testid=gen-go]")
        try:
            page.wait_for_selector("[data-testid=gen-result]:has-text('Created')")
        except Exception:
            raise AssertionError(page.inner_text("body")[-600:]) from None
        tasks = Task.objects.filter(project=project)
        assert tasks.count() > 0
        assert Assignment.objects.filter(task__project=project, annotator__username="lay1").count() == tasks.count()
        page.wait_for_selector("[data-testid=task-table]")
        page.screenshot(path=str(SHOTS / "manage-tasks.png"), full_page=True)
        page.click("[data-testid=tab-overview]")
        page.wait_for_selector("[data-testid=overview]")
        page.screenshot(path=str(SHOTS / "manage-overview.png"), full_page=True)
        page.click("[data-testid=tab-qa]")
        page.wait_for_selector("[data-testid=qa-viewer] canvas", timeout=30_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(SHOTS / "manage-registration-qa.png"), full_page=True)
