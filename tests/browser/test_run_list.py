"""In Chromium: filter and page through the runs list, go back through the filters, and cancel real runs of the
local engine after a preview, watching their rows change without a reload."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from backends.base import RunStatus
from dashboard.models import Action
from runs.models import PipelineRun
from tests import factories
from tests.browser.conftest import ARTIFACTS, log_in
from tests.integration.helpers import PIPELINES, submit, wait_for, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
BASE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def make_runs(count: int, status: str, prefix: str, start: int = 0) -> None:
    for i in range(start, start + count):
        factories.run(
            external_id=f"{prefix}_{i:03d}",
            display_name=f"{prefix} {i:03d}",
            status=status,
            created_at=BASE - timedelta(minutes=2 * i + (1 if status == RunStatus.COMPLETED else 0)),
            started_at=BASE,
            duration=float(i),
        )


def rows(page):
    return page.locator("table.runs tbody tr")


def test_filters_and_pages_live_in_the_url_and_the_back_button_restores_them(page, live_server, viewer):
    make_runs(60, RunStatus.FAILED, "failed")
    make_runs(60, RunStatus.COMPLETED, "done")
    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}/runs/")
    expect(rows(page)).to_have_count(50)
    expect(page.locator(".runs-count")).to_have_text("50 shown, more")
    page.evaluate("() => { window.__sameDocument = true; }")  # gone if anything reloads the page

    page.locator("summary", has_text="Status").click()
    page.get_by_role("checkbox", name="Failed", exact=True).check()
    expect(page).to_have_url(re.compile(r"/runs/\?status=Failed$"))
    expect(rows(page).first).to_contain_text("failed_000")
    expect(page.locator("table.runs tbody .badge")).to_have_text(["Failed"] * 50)

    page.get_by_role("link", name="Older →").click()
    expect(page).to_have_url(re.compile(r"status=Failed&cursor=created_"))
    expect(rows(page)).to_have_count(10)
    expect(rows(page).first).to_contain_text("failed_050")
    expect(page.locator(".runs-count")).to_have_text("10 shown")

    page.fill("#filter-created-after", "2026-02-30")
    page.press("#filter-created-after", "Enter")
    expect(page.locator(".filters-error")).to_have_text(re.compile("Not a date: “2026-02-30”"))
    expect(rows(page)).to_have_count(1)  # the message row
    expect(page.locator("table.runs")).to_contain_text("fix the filter")
    assert page.evaluate("() => window.__sameDocument") is True

    page.go_back()
    expect(page).to_have_url(re.compile(r"status=Failed&cursor=created_"))
    expect(rows(page).first).to_contain_text("failed_050")
    expect(page.locator("#filter-created-after")).to_have_value("")
    page.go_back()
    expect(page).to_have_url(re.compile(r"/runs/\?status=Failed$"))
    expect(rows(page).first).to_contain_text("failed_000")
    page.go_back()
    expect(page).to_have_url(re.compile(r"/runs/$"))
    expect(rows(page)).to_have_count(50)
    expect(page.get_by_role("checkbox", name="Failed", exact=True)).not_to_be_checked()
    expect(page.locator("summary", has_text="Status")).to_have_text("Status: any")

    # The shared URL of a filtered page shows the same thing when opened afresh.
    page.goto(f"{live_server.url}/runs/?status=Completed&sort=-duration")
    expect(rows(page).first).to_contain_text("done_059")
    expect(page.locator("#filter-sort")).to_have_value("-duration")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "runs-list.png"), full_page=True)


def test_an_operator_cancels_several_runs_after_a_preview_and_watches_them_end(
    page, live_server, operator, celery_beat
):
    done = submit(PIPELINES / "two_steps.yml", greeting="bulk")
    wait_for_status(done, set(RunStatus.TERMINAL))
    sleepers = [submit(PIPELINES / "sleeper.yml") for _ in range(2)]
    for run_id in sleepers:
        wait_for_status(run_id, {RunStatus.RUNNING})

    log_in(page, live_server, "operator", "operator-pass-123")
    page.goto(f"{live_server.url}/runs/")
    expect(rows(page)).to_have_count(3, timeout=15_000)  # beat mirrored all three
    expect(page.locator("table.runs")).to_contain_text("Running")
    page.get_by_label("Select every run on this page").check()
    page.get_by_role("button", name="Selected runs…").click()

    expect(page.get_by_role("heading", name="Cancel 2 runs?")).to_be_visible()
    expect(page.locator("#cancelling tbody tr")).to_have_count(2)
    expect(page.locator("#cancelling")).to_contain_text("Sleeper")
    expect(page.locator("#left tbody tr")).to_have_count(1)
    expect(page.locator("#left")).to_contain_text(done)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "bulk-cancel-preview.png"), full_page=True)
    assert not Action.objects.exists()

    page.fill("input[name=reason]", "wrong input data")
    page.get_by_role("button", name="Cancel 2 runs").click()

    expect(page).to_have_url(re.compile(r"/runs/$"))
    expect(page.locator(".messages")).to_contain_text("Cancel requested for 2 runs")
    page.evaluate("() => { window.__sameDocument = true; }")
    mirrored = {r.external_id: r.pk for r in PipelineRun.objects.filter(external_id__in=sleepers)}
    for run_id in sleepers:
        # The rows change through the live endpoint: the page is not reloaded.
        expect(page.locator(f"#run-{mirrored[run_id]} .badge")).to_have_text("Canceled", timeout=20_000)
    assert page.evaluate("() => window.__sameDocument") is True
    for run_id in sleepers:
        assert wait_for_status(run_id, set(RunStatus.TERMINAL)) == RunStatus.CANCELED
    actions = wait_for(
        lambda: list(Action.objects.filter(status=Action.Status.SUCCEEDED)) or None, what="the actions"
    )
    assert sorted(a.target_id for a in Action.objects.all()) == sorted(sleepers)
    assert {a.reason for a in actions} == {"wrong input data"}


def test_polling_pauses_while_the_tab_is_hidden(page, live_server, viewer):
    make_runs(3, RunStatus.RUNNING, "active")
    polls = []
    page.on("request", lambda request: "/runs/changes" in request.url and polls.append(request.url))
    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}/runs/")
    expect(rows(page)).to_have_count(3)
    page.wait_for_timeout(4_000)  # Playwright reports requests while it waits, not while Python sleeps
    assert polls, "the list polls while a run is active"

    page.evaluate(
        "() => { Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});"
        " document.dispatchEvent(new Event('visibilitychange')); }"
    )
    page.wait_for_timeout(500)  # a request already on its way may land
    before = len(polls)
    page.wait_for_timeout(7_000)  # two polls would have been due
    assert len(polls) == before

    page.evaluate(
        "() => { Object.defineProperty(document, 'hidden', {configurable: true, get: () => false}); }"
    )
    page.wait_for_timeout(4_000)
    assert len(polls) > before, "polling resumes when the tab is shown again"
