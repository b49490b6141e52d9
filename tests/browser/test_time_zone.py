"""In Chromium: times are in the browser's zone, and a control in the header switches every page to UTC and back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tokyo_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, timezone_id="Asia/Tokyo")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert errors == []


def test_the_header_switches_every_page_between_the_browsers_zone_and_utc(tokyo_page, live_server, viewer):
    run = factories.run(display_name="Noon run", created_at=datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    page = tokyo_page
    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(
        f"{live_server.url}{run.get_absolute_url()}"
    )  # the zone cookie is set by now: this page uses it

    expect(page.locator(".tz-label")).to_have_text("Times in Asia/Tokyo")
    expect(page.locator("main")).to_contain_text("2026-06-01 21:00:00")

    page.get_by_role("button", name="Show UTC").click()
    expect(page.locator(".tz-label")).to_have_text("Times in UTC")
    expect(page.locator("main")).to_contain_text("2026-06-01 12:00:00")
    page.get_by_role("banner").get_by_role("link", name="Runs").click()
    expect(page.locator("#run-rows")).to_contain_text("2026-06-01 12:00:00")  # every page follows

    page.get_by_role("button", name="Show my time").click()
    expect(page.locator(".tz-label")).to_have_text("Times in Asia/Tokyo")
    expect(page.locator("#run-rows")).to_contain_text("2026-06-01 21:00:00")
