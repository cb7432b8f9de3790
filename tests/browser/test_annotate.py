"""The annotator workspace in real Chromium against the live ASGI server, PostgreSQL and Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotation.models import Annotation, Assignment
from tests.browser.conftest import login, wait_until
from tests.support.procs import asgi_server

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open_next_task(page, base: str, project_id: int) -> None:
    page.goto(f"{base}/app/annotate/{project_id}/")
    page.wait_for_selector("#app[data-ready='1']", timeout=30_000)
    wait_until(page, "() => document.querySelector('[data-testid=save-status]')?.textContent.includes('saved')")


def _click_image(page, frac_x: float, frac_y: float, **kw) -> None:
    box = page.locator("[data-testid=viewer]").bounding_box()
    page.mouse.click(box["x"] + box["width"] * frac_x, box["y"] + box["height"] * frac_y, **kw)


def _wait_saved(page) -> None:
    wait_until(page, "() => document.querySelector('[data-testid=save-status]').textContent.includes('All changes saved')")


def test_annotator_labels_accepts_undoes_and_finds_everything_after_reload(world, browser):
    with asgi_server() as base:
        page = browser.new_page(viewport={"width": 1400, "height": 860})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        login(page, base, "lay1")
        _open_next_task(page, base, world.project_id)
        assert f"/app/annotate/{world.project_id}/{world.task_id}/" in page.url
        page.wait_for_selector("[data-testid=proposal-count]")
        # overlay: flick to IF and back, change opacity
        page.keyboard.press("f")
        assert page.get_attribute("[data-testid=viewer]", "data-overlay") == "if"
        page.keyboard.press("f")
        assert page.get_attribute("[data-testid=viewer]", "data-overlay") == "on"
        page.fill("[data-testid=opacity]", "0.7")
        # per-channel display window and gamma become part of the overlay tile URLs, and those tiles render
        tiles: list[tuple[str, int]] = []
        page.on("response", lambda r: tiles.append((r.url, r.status)) if "r=" in r.url else None)
        page.click("[data-testid=channels] details summary")
        page.fill("[data-testid=chan-0-max]", "180")
        page.keyboard.press("Tab")
        page.locator("[data-testid=chan-0-gamma]").evaluate(
            "el => { el.value = '2'; el.dispatchEvent(new Event('input', {bubbles: true})); }")
        page.wait_for_timeout(1500)
        windowed = [(u, s) for u, s in tiles if "-180-2" in u]
        assert windowed and all(s in (200, 304) for _, s in windowed), tiles[-5:]
        page.evaluate("document.activeElement.blur()")  # shortcuts are off while typing in a field
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "annotate-overlay.png"))
        page.fill("[data-testid=chan-0-min]", "999")  # above max: refused, value restored
        page.keyboard.press("Tab")
        assert page.input_value("[data-testid=chan-0-min]") != "999"
        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("w")
        assert page.get_attribute("[data-testid=mode-swipe]", "class").endswith("on")
        page.wait_for_timeout(800)
        page.screenshot(path=str(SHOTS / "annotate-swipe.png"))
        page.keyboard.press("w")
        page.keyboard.press("?")
        page.wait_for_selector("[data-testid=help-overlay]")
        page.screenshot(path=str(SHOTS / "annotate-help.png"))
        page.keyboard.press("Escape")
        assert page.locator("[data-testid=help-overlay]").count() == 0
        # point + class: class 2 then two clicks
        page.keyboard.press("2")
        _click_image(page, 0.42, 0.45)
        _click_image(page, 0.55, 0.40)
        page.keyboard.press("1")  # reclassifies the selected (last) point
        # polygon of class 3
        page.keyboard.press("Escape")
        page.keyboard.press("3")
        page.keyboard.press("g")
        for fx, fy in [(0.60, 0.60), (0.66, 0.60), (0.66, 0.68), (0.60, 0.68)]:
            _click_image(page, fx, fy)
        page.keyboard.press("Enter")
        _wait_saved(page)
        # reshape it: select, drag one vertex handle outwards, double-click an edge to add a vertex
        polygon = Annotation.objects.get(task_id=world.task_id, source="human", is_deleted=False, geometry__type="Polygon")
        before = (polygon.max_x, polygon.max_y)
        page.keyboard.press("v")
        _click_image(page, 0.63, 0.64)
        box = page.locator("[data-testid=viewer]").bounding_box()
        at = lambda fx, fy: (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)  # noqa: E731
        page.mouse.move(*at(0.66, 0.68))
        page.mouse.down()
        for k in range(1, 6):
            page.mouse.move(*at(0.66 + 0.01 * k, 0.68 + 0.01 * k))
        page.mouse.up()
        _wait_saved(page)
        page.mouse.dblclick(*at(0.63, 0.60))
        _wait_saved(page)
        polygon.refresh_from_db()
        assert polygon.max_x > before[0] + 5 and polygon.max_y > before[1] + 5  # the corner moved out
        assert len(polygon.geometry["coordinates"][0]) == 6  # a fifth vertex, plus the closing one
        # accept one proposal with A (select it first by clicking on it with the select tool)
        page.keyboard.press("v")
        first = page.evaluate("window.__laypath.proposals()[0]")
        pos = page.evaluate("id => window.__laypath.screenOf(id)", first)
        page.mouse.move(pos["x"] + 1, pos["y"] + 1)
        page.keyboard.press("a")
        _wait_saved(page)
        page.screenshot(path=str(SHOTS / "annotate-labels.png"))
        # undo the last action (the accept) then redo it
        page.keyboard.press("Control+z")
        page.keyboard.press("Control+Shift+z")
        _wait_saved(page)
        # add one more point and undo it: it must disappear from the server too
        page.keyboard.press("p")
        _click_image(page, 0.30, 0.70)
        _wait_saved(page)
        page.keyboard.press("Control+z")
        _wait_saved(page)
        human = Annotation.objects.filter(task_id=world.task_id, source="human", is_deleted=False)
        assert human.count() == 3
        assert sorted(a.geom_type for a in human) == ["Point", "Point", "Polygon"]
        assert Annotation.objects.filter(id__in=world.proposal_ids, status="accepted").count() == 1
        page.reload()
        page.wait_for_selector("#app[data-ready='1']", timeout=30_000)
        wait_until(page, "() => document.querySelector('[data-testid=count-1]') && window.__laypath.proposals().length === 3")
        shown = [int(page.inner_text(f"[data-testid=count-{k}]")) for k in "123"]
        visible = Annotation.objects.filter(task_id=world.task_id, is_deleted=False).exclude(status__in=["proposed", "rejected"])
        expected = [visible.filter(label_class_id=c).count() for c in world.class_ids]
        assert shown == expected and sum(shown) == 4
        assert not errors, errors


def test_saves_made_while_the_server_is_unreachable_arrive_after_it_returns(world, browser):
    with asgi_server() as base:
        page = browser.new_page(viewport={"width": 1300, "height": 820})
        login(page, base, "lay1")
        _open_next_task(page, base, world.project_id)
        # the network path to the bulk API goes down
        page.route("**/api/annotations/bulk/", lambda route: route.abort("internetdisconnected"))
        page.keyboard.press("1")
        _click_image(page, 0.40, 0.40)
        _click_image(page, 0.50, 0.55)
        wait_until(page, "() => document.querySelector('[data-testid=save-status]').textContent.includes('kept in this browser')")
        assert page.get_attribute("[data-testid=save-status]", "data-pending") == "2"
        page.screenshot(path=str(SHOTS / "annotate-offline.png"))
        assert Annotation.objects.filter(task_id=world.task_id, source="human").count() == 0
        # reload while still offline: the unsent labels are restored from browser storage
        page.reload()
        page.wait_for_selector("#app[data-ready='1']", timeout=30_000)
        assert page.inner_text("[data-testid=count-1]") == "2"
        # the network returns: the queue delivers with its backoff (or at once with "Retry now")
        page.unroute("**/api/annotations/bulk/")
        # (the backoff timer may already have delivered them; otherwise press the button)
        page.evaluate("() => { const b = document.querySelector('[data-testid=retry-now]'); if (b && !b.hidden) b.click(); }")
        _wait_saved(page)
        assert Annotation.objects.filter(task_id=world.task_id, source="human", is_deleted=False).count() == 2
        assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('laypath.savequeue')).length") == 0
        # submit, then "next task" says there is nothing left
        page.click("[data-testid=submit]")
        page.wait_for_selector("[data-testid=task-done]")
        assert Assignment.objects.get(task_id=world.task_id).status == "submitted"
        page.click("[data-testid=next-task]")
        page.wait_for_selector("[data-testid=no-tasks]")


def _bump(annotation_id: str, **fields) -> None:
    """Someone else changes a row behind the page's back (new version)."""
    row = Annotation.objects.get(id=annotation_id)
    for k, v in fields.items():
        setattr(row, k, v)
    row.version += 1
    row.save()


def test_conflicting_edit_is_shown_and_resolved_and_thousands_of_labels_share_one_canvas(world, browser):
    # 3,500 model proposals outside the task region: zoomed out, the server answers with centroids only
    rows = []
    for i in range(3500):
        x, y = 20 + (i % 70) * 4.0, 20 + (i // 70) * 4.0
        rows.append(Annotation(project_id=world.project_id, pair_id=world.pair_id, label_class_id=world.class_ids[i % 3],
                               geom_type="Point", geometry={"type": "Point", "coordinates": [x, y]},
                               min_x=x, min_y=y, max_x=x, max_y=y, cx=x, cy=y, source="model", status="proposed"))
    Annotation.objects.bulk_create(rows)
    with asgi_server() as base:
        page = browser.new_page(viewport={"width": 1300, "height": 820})
        login(page, base, "lay1")
        _open_next_task(page, base, world.project_id)
        target = world.proposal_ids[0]
        _bump(target, label_class_id=world.class_ids[2])
        pos = page.evaluate("id => window.__laypath.screenOf(id)", target)
        page.mouse.move(pos["x"] + 1, pos["y"] + 1)
        page.keyboard.press("a")
        page.wait_for_selector("[data-testid=conflict]")
        page.screenshot(path=str(SHOTS / "annotate-conflict.png"))
        page.click("[data-testid=conflict] button:has-text('Take theirs')")
        _wait_saved(page)
        row = Annotation.objects.get(id=target)
        assert (row.status, row.label_class_id) == ("proposed", world.class_ids[2])
        # again, but this time keep mine: my accept lands on top of their version
        _bump(target, confidence=0.1)
        page.mouse.move(pos["x"] + 1, pos["y"] + 1)
        page.keyboard.press("a")
        page.wait_for_selector("[data-testid=conflict]")
        page.click("[data-testid=conflict] button:has-text('Keep mine')")
        _wait_saved(page)
        assert Annotation.objects.get(id=target).status == "accepted"
        # click-to-segment: one click returns a cell outline (model or classical) saved as a polygon
        page.keyboard.press("s")
        _click_image(page, 0.45, 0.62)
        outlines = Annotation.objects.filter(task_id=world.task_id, source="human", geom_type="Polygon", is_deleted=False)
        for _ in range(60):
            if outlines.exists():
                break
            page.wait_for_timeout(250)
        toasts = page.evaluate("() => document.querySelector('[data-testid=toasts]')?.textContent || ''")
        assert outlines.exists(), toasts
        assert outlines.count() == 1 and len(outlines[0].geometry["coordinates"][0]) >= 4
        # zoom out to the whole slide: level of detail from the server, still one canvas for all labels
        page.keyboard.press("0")
        wait_until(page, "() => window.__laypath.drawn() >= 3000", timeout_s=30)
        canvases = page.evaluate("() => document.querySelectorAll('[data-testid=viewer] canvas').length")
        assert canvases <= 4  # OpenSeadragon's canvas, the navigator's, and our one label layer
        page.screenshot(path=str(SHOTS / "annotate-zoomed-out.png"))
