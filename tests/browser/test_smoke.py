from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.procs import asgi_server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_user_logs_in_and_sees_home_page(browser, user_factory):
    user_factory(username="smoke", password="pw-for-tests-123")
    with asgi_server() as base:
        page = browser.new_page()
        page.goto(f"{base}/")
        assert "/accounts/login/" in page.url
        page.fill("input[name=username]", "smoke")
        page.fill("input[name=password]", "pw-for-tests-123")
        page.click("button[type=submit]")
        page.wait_for_selector("text=Your projects")
        assert page.inner_text("[data-testid=username]") == "smoke"
        # static files are served and the stylesheet applies
        assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).display") == "flex"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "home.png"))
