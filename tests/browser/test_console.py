"""In Chromium: requests htmx has in flight never turn into console errors, whether the reader leaves the page
while a poll is out or types a filter faster than the server answers. (Every browser test fails on a console
error: see the page fixture.)"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from backends.base import RunStatus
from tests import factories
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def hold(page, pattern: str) -> list:
    """Keep every request matching ``pattern`` unanswered; the routes held so far, to answer later."""
    held: list = []
    page.route(re.compile(pattern), lambda route: held.append(route))
    return held


def wait_until_held(page, held: list, timeout_ms: int = 30_000) -> None:
    for _ in range(timeout_ms // 50):
        if held:
            return
        page.wait_for_timeout(50)  # lets Playwright deliver the request to the route handler
    raise AssertionError("no request was held")


def test_leaving_a_page_while_its_poll_is_out_is_not_an_error(page, live_server, viewer):
    run = factories.run(status=RunStatus.RUNNING, display_name="Still going")
    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}/runs/")
    held = hold(page, r"/runs/changes")
    wait_until_held(page, held)  # the list polls while a run is active: the next poll goes out, unanswered

    # What the browser does when the reader follows a link: it tells the page it is being left, then drops
    # the requests still out (Playwright's held requests are not dropped for real, so the drop is htmx's own).
    page.evaluate(
        "() => { window.dispatchEvent(new Event('beforeunload'));"
        " htmx.trigger(document.getElementById('runs-live'), 'htmx:abort'); }"
    )
    page.get_by_role("link", name="Still going").click()

    expect(page.locator("h1")).to_contain_text("Still going")
    assert page.url.endswith(run.get_absolute_url())
    assert page.console_errors == []


def test_a_filter_typed_and_sent_twice_before_an_answer_is_not_an_error(page, live_server, viewer):
    factories.run(status=RunStatus.COMPLETED, display_name="Nightly train")
    factories.run(status=RunStatus.COMPLETED, display_name="Weekly report")
    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}/runs/")
    held = hold(page, r"/runs/\?.*q=")

    box = page.locator("#filter-q")
    box.fill("Night")
    box.press("Enter")  # a search and a submit: two requests for the same filter
    box.fill("Nightly")
    box.press("Enter")
    wait_until_held(page, held)
    # Unrouting lets the held request go on, and what htmx queued behind it goes straight through.
    page.unroute(re.compile(r"/runs/\?.*q="))

    expect(page.locator("#run-rows")).to_contain_text("Nightly train")
    expect(page.locator("#run-rows")).not_to_contain_text("Weekly report")
    assert page.console_errors == []
