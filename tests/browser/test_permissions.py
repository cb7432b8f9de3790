"""Project isolation as a person sees it in the browser."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login
from tests.support.procs import asgi_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_annotator_cannot_open_another_projects_task(browser):
    from tests.browser.world import build_two_projects

    world = build_two_projects()
    with asgi_server() as base:
        page = browser.new_page()
        login(page, base, "lay1")
        page.goto(f"{base}/app/annotate/{world.other_project_id}/{world.other_task_id}/")
        page.wait_for_selector("[data-testid=forbidden]")
        assert "cannot open this task" in page.inner_text("[data-testid=forbidden]")
        assert page.locator("[data-testid=viewer]").count() == 0
        # the API behind it answers "not found", not the task
        status = page.evaluate(f"fetch('/api/tasks/{world.other_task_id}/').then(r => r.status)")
        assert status in (403, 404)
        # and the manage screen of a project lay1 is not a manager of shows no data
        page.goto(f"{base}/app/manage/{world.other_project_id}/")
        page.wait_for_selector("[data-testid=forbidden]")
