"""Browser fixtures: Playwright driving Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(chromium_path, monkeypatch):
    monkeypatch.setenv("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs its own event loop; let Django's ORM run from this thread anyway.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def world(settings, tmp_path):
    """The browser-test world (see tests/browser/world.py) in a temporary slide store."""
    from tests.browser.world import build_world

    settings.SLIDE_ROOT = tmp_path / "slides"
    settings.SLIDE_IMPORT_ROOT = tmp_path / "slides" / "import"
    settings.SLIDE_IMPORT_ROOT.mkdir(parents=True)
    return build_world(tmp_path)


def login(page, base: str, username: str) -> None:
    """Log in through the real form."""
    from tests.browser.world import PASSWORD

    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=username]")


def wait_until(page, expression: str, arg=None, timeout_s: float = 20.0):
    """Poll a JS function expression (page.evaluate is CSP-safe; wait_for_function is not) until truthy."""
    import time

    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = page.evaluate(expression, arg)
        if last:
            return last
        page.wait_for_timeout(150)
    raise AssertionError(f"timed out waiting for {expression!r} (last value {last!r})")
