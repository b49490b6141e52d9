"""In Chromium: the overview is the first page after login; a number on it leads to the list that shows as many
rows; and the page follows the mirror by itself, without a reload."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from backends.base import FireStatus, RunStatus
from dashboard import overview_runs, overview_views
from dashboard.models import BackendState
from tests import factories
from tests.browser.conftest import ARTIFACTS, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def ago(**span):
    return timezone.now() - timedelta(**span)


def a_busy_morning() -> dict:
    """A bit of everything the overview shows: active runs on two backends, failures with their failing step,
    a stuck run, a schedule that missed a fire and ones about to fire, a failing backend, actions."""
    train = factories.pipeline(name="train-resnet50")
    for _ in range(3):
        created = ago(days=1)
        factories.run(
            pipeline=train,
            created_at=created,
            started_at=created,
            finished_at=created + timedelta(minutes=20),
        )
    stuck = factories.run(
        external_id="train_stuck", pipeline=train, status=RunStatus.RUNNING, created_at=ago(hours=3)
    )
    factories.run(
        external_id="train_queued", pipeline=train, status=RunStatus.QUEUED, created_at=ago(hours=4)
    )
    factories.action(target=stuck, reason="no progress since the morning")
    factories.run(pipeline=train, status=RunStatus.RUNNING, created_at=ago(minutes=5))
    factories.run(status=RunStatus.QUEUED)
    factories.run(backend="azure-prod", status=RunStatus.RUNNING, display_name="score batch")
    factories.run(backend="azure-prod", status=RunStatus.NOT_RESPONDING)
    for i in range(3):
        factories.run(
            external_id=f"failed_{i}",
            pipeline=train,
            status=RunStatus.FAILED,
            created_at=ago(hours=i + 1),
            steps=["prep", {"node_id": "train", "status": RunStatus.FAILED, "exit_code": 1, "error": "OOM"}],
        )
    for i in range(overview_runs.OVERDUE_SHOWN + 1):  # more pipelines with a stuck run than the table lists
        new = factories.pipeline(name=f"new-pipeline-{i}")
        factories.run(pipeline=new, status=RunStatus.RUNNING, created_at=ago(hours=7))
    nightly = factories.schedule(name="nightly-train")
    factories.fire(
        nightly, fire_time=ago(hours=4), status=FireStatus.FAILED, reason="the pipeline was disabled"
    )
    factories.schedule(name="hourly-ingest")
    BackendState.objects.create(name="local", healthy=True, last_success_at=ago(seconds=5))
    BackendState.objects.create(
        name="azure-prod",
        healthy=False,
        last_success_at=ago(minutes=12),
        last_error="503 Service Unavailable",
    )
    return {"train": train}


def test_a_number_leads_to_the_list_with_as_many_rows_and_the_page_follows_a_run_that_fails(
    page, live_server, viewer, monkeypatch
):
    monkeypatch.setattr(overview_views, "POLL_EVERY", "1s")
    world = a_busy_morning()
    log_in(page, live_server, "viewer", "viewer-pass-123")

    expect(page).to_have_url(f"{live_server.url}/")  # the login lands here
    expect(page.locator("header nav a").first).to_have_text("Overview")
    failed = page.locator("#tile-failed .overview-n")
    expect(failed).to_have_text("3")
    expect(page.locator("#failures tbody tr")).to_have_count(3)
    expect(page.locator("#failures")).to_contain_text("exit 1")
    expect(page.locator("#tile-not-responding .overview-n")).to_have_text("1")
    expect(page.locator("#overdue")).to_contain_text("train-resnet50")
    expect(page.locator("#overview-backend-azure-prod")).to_contain_text("503 Service Unavailable")
    expect(page.locator("#schedules")).to_contain_text("nightly-train")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    page.locator("#tile-failed").click()
    expect(page).to_have_url(re.compile(r"/runs/\?status=Failed&created_after="))
    expect(page.locator("table.runs tbody tr")).to_have_count(3)
    expect(page.locator(".runs-count")).to_have_text("3 shown")

    page.go_back()
    overdue = page.locator(f"#overdue-count-{world['train'].pk}")
    expect(page.locator(".overview-overdue-count").first).to_have_id(f"overdue-count-{world['train'].pk}")
    expect(overdue).to_have_text("2")
    overdue.click()
    expect(page.locator("table.runs tbody tr")).to_have_count(2)
    expect(page.locator("table.runs")).to_contain_text("train_stuck")
    expect(page.locator("table.runs")).to_contain_text("train_queued")

    page.go_back()
    expect(failed).to_have_text("3")
    page.evaluate("() => { window.__sameDocument = true; }")  # gone if anything reloads the page
    page.locator("#overdue-more summary").click()
    updated = page.locator(".overview-updated time").get_attribute("datetime")
    expect(page.locator(".overview-updated time")).not_to_have_attribute("datetime", updated, timeout=5_000)
    expect(page.locator("#overdue-more")).to_have_attribute("open", "")  # still open after the refresh
    # The next sync finds the stuck run failed.
    factories.run(
        external_id="train_stuck", pipeline=world["train"], status=RunStatus.FAILED, created_at=ago(hours=3)
    )

    expect(failed).to_have_text("4", timeout=10_000)
    expect(page.locator("#failures")).to_contain_text("train_stuck")
    expect(overdue).to_have_text("1")
    assert page.evaluate("() => window.__sameDocument") is True
