"""The admin console and the review screen load against the live server, with empty states where data is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import login
from tests.support.procs import asgi_server

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_sees_health_models_and_jobs(browser):
    from annotation.models import Membership
    from tests.browser.world import build_two_projects, user

    world = build_two_projects()
    admin = user("admin1", staff=True)
    Membership.objects.create(project_id=world.project_id, user=admin, role="manager")
    with asgi_server() as base:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        login(page, base, "admin1")
        page.click("[data-testid=admin-link]")
        page.wait_for_selector("#app[data-ready='1']")
        assert "System health" in page.inner_text("[data-testid=health]")
        models = page.inner_text("[data-testid=models]")
        assert "Model versions" in models and ("No model versions yet" in models or "v1" in models)
        assert page.locator("[data-testid=retrain]").count() == 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "admin.png"), full_page=True)
        page.goto(f"{base}/app/review/{world.project_id}/")
        page.wait_for_selector("#app[data-ready='1']")
        assert page.locator("[data-testid=review]").count() == 1
        assert not errors, errors
