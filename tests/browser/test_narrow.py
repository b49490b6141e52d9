"""In Chromium at 390 px (a phone): the runs list and a run's page stay usable. Nothing makes the page itself
scroll sideways; a wide table or graph scrolls inside its own box; the controls stay on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backends.base import RunStatus
from tests import factories
from tests.browser.conftest import ARTIFACTS, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTH = 390


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": WIDTH, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert errors == []


def page_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def test_the_runs_list_fits_a_phone_and_its_table_scrolls_in_its_box(phone, live_server, operator):
    for i in range(5):
        factories.run(
            status=RunStatus.RUNNING if i % 2 else RunStatus.FAILED,
            display_name=f"A rather long run name number {i} for a small screen",
            tags={"team": "pricing", "priority": "high"},
        )
    log_in(phone, live_server, "operator", "operator-pass-123")
    phone.goto(f"{live_server.url}/runs/")
    expect(phone.locator("table.runs")).to_be_visible()

    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "narrow-runs.png"), full_page=True)
    assert page_width(phone) <= WIDTH
    expect(phone.locator("#filter-q")).to_be_in_viewport()
    status = phone.locator("table.runs tbody tr").first.locator(".badge")
    expect(status).to_be_in_viewport()  # the first column, without scrolling sideways


def test_a_run_page_fits_a_phone_with_its_graph_and_steps_in_boxes_of_their_own(phone, live_server, operator):
    steps = [f"shard_{i:02d}" for i in range(12)]
    run = factories.run(
        status=RunStatus.RUNNING,
        display_name="Fan out on a phone",
        steps=["split", *steps, "merge"],
        edges=[("split", "parts", s, "part") for s in steps] + [(s, "out", "merge", s) for s in steps],
    )
    log_in(phone, live_server, "operator", "operator-pass-123")
    phone.goto(f"{live_server.url}{run.get_absolute_url()}")
    expect(phone.locator("#run-status")).to_be_visible()

    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "narrow-run.png"), full_page=True)
    assert page_width(phone) <= WIDTH
    expect(phone.get_by_role("button", name="Cancel run")).to_be_in_viewport()
    expect(phone.locator("svg.graph")).to_be_visible()
