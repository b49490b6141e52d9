"""In Chromium: log in, find a run, see its steps, cancel it, see it Canceled."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backends.base import RunStatus
from backends.local.models import LocalStep
from tests.browser.conftest import log_in
from tests.integration.helpers import PIPELINES, processes_in_group, submit, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_cancels_a_running_run_from_its_page(page, live_server, operator, celery_beat):
    done = submit(PIPELINES / "two_steps.yml", greeting="browser")
    wait_for_status(done, set(RunStatus.TERMINAL))
    running = submit(PIPELINES / "sleeper.yml")
    wait_for_status(running, {RunStatus.RUNNING})

    log_in(page, live_server, "operator", "operator-pass-123")
    page.goto(f"{live_server.url}/runs/")
    expect(page.locator("table.runs tbody tr")).to_have_count(2, timeout=10_000)  # beat mirrored both
    expect(page.locator("table.runs")).to_contain_text("Sleeper")

    page.get_by_role("link", name="Sleeper").click()
    expect(page.locator("#run-status")).to_have_text("Running", timeout=10_000)
    expect(page.locator("#step-sleep")).to_contain_text("Running")
    expect(page.locator("#step-after")).to_contain_text("NotStarted")

    page.fill("input[name=reason]", "wrong input data")
    page.get_by_role("button", name="Cancel run").click()

    expect(page.locator("#run-status")).to_have_text("Canceled", timeout=10_000)
    expect(page.locator("#step-sleep")).to_contain_text("Canceled")
    expect(page.locator("table.actions")).to_contain_text("wrong input data")
    expect(page.locator("table.actions")).to_contain_text("Succeeded")
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    assert processes_in_group(LocalStep.objects.get(run_id=running, node_id="sleep").pid) == []


def test_a_step_log_tails_live_in_the_browser(page, live_server, viewer, celery_beat):
    running = submit(PIPELINES / "sleeper.yml")
    wait_for_status(running, {RunStatus.RUNNING})
    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}/runs/")
    page.get_by_role("link", name="Sleeper").click()

    page.locator("#step-sleep").get_by_role("link", name="stdout").click()
    expect(page.locator("#log")).to_contain_text("tick 1", timeout=10_000)
    first = page.locator("#log").inner_text().count("tick")
    expect(page.locator("#log")).to_contain_text(
        f"tick {first + 5}", timeout=10_000
    )  # appended, not reloaded

    from backends.registry import get_backend

    get_backend("local").cancel_run(running)
    wait_for_status(running, set(RunStatus.TERMINAL))
