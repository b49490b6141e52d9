"""In Chromium: the page that answers an action shows the requested change at once, follows it live until it ends,
then shows the result and links to what it made. Never a reload, never a second click."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from backends.base import RunStatus
from backends.local.scheduler import register_schedule_file
from runs.models import PipelineRun
from schedules.models import Schedule
from tests.browser.conftest import log_in
from tests.integration.helpers import PIPELINES, submit, wait_for, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@contextmanager
def worker_log_on_failure(worker):
    try:
        yield
    except AssertionError:
        print("the end of the worker's log:\n" + worker.output()[-6000:])
        raise


def schedules(tmp_path, *names: str) -> None:
    for name in names:
        path = tmp_path / f"{name}.yml"
        path.write_text(
            f"name: {name}\ndisplay_name: Every hour {name}\n"
            "trigger:\n  type: recurrence\n  frequency: hour\n  interval: 1\n"
            f"create_job: {PIPELINES / 'two_steps.yml'}\n"
        )
        register_schedule_file(path, now=timezone.now() - timedelta(minutes=5))
    wait_for(
        lambda: Schedule.objects.filter(name__in=names).count() == len(names), what="the mirrored schedules"
    )


def test_disabling_a_schedule_shows_disabling_then_disabled_with_an_enable_button(
    page, live_server, manager, celery_beat, celery_worker, tmp_path
):
    schedules(tmp_path, "alpha")
    log_in(page, live_server, "manager", "manager-pass-123")
    page.goto(f"{live_server.url}/schedules/")
    row = page.locator("tr", has_text="Every hour alpha")

    row.get_by_role("button", name="Disable").click()

    # The answer shows the change asked for ("Disabling…", while the worker has not carried it out: see
    # tests/test_schedule_pages.py), then follows it to its end, without a reload.
    with worker_log_on_failure(celery_worker):
        expect(row.locator(".schedule-status")).to_have_text("Disabled", timeout=15_000)
    expect(row.get_by_role("button", name="Enable")).to_be_visible()


def test_disabling_schedules_in_bulk_follows_each_row_to_its_end(
    page, live_server, manager, celery_beat, celery_worker, tmp_path
):
    schedules(tmp_path, "beta", "gamma")
    log_in(page, live_server, "manager", "manager-pass-123")
    page.goto(f"{live_server.url}/schedules/")
    for name in ("beta", "gamma"):
        page.get_by_label(f"Select {name}").check()
    page.get_by_role("button", name="Disable…").click()
    expect(page.locator("main")).to_contain_text("Every hour beta")
    page.get_by_role("button", name="Disable 2 schedules").click()

    expect(page.locator(".messages")).to_contain_text("Disabling 2 schedules.")
    for name in ("beta", "gamma"):
        status = page.locator("tr", has_text=f"Every hour {name}").locator(".schedule-status")
        with worker_log_on_failure(celery_worker):
            expect(status).to_have_text("Disabled", timeout=15_000)


def test_cancelling_a_run_shows_cancel_requested_at_once_then_canceled(
    page, live_server, operator, celery_beat
):
    run_id = submit(PIPELINES / "sleeper.yml")
    wait_for_status(run_id, {RunStatus.RUNNING})
    run = wait_for(lambda: PipelineRun.objects.filter(external_id=run_id).first(), what="the mirrored run")
    log_in(page, live_server, "operator", "operator-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    expect(page.locator("#run-status")).to_have_text("Running", timeout=10_000)

    page.get_by_role("button", name="Cancel run").click()

    # At once: CancelRequested, or already Canceled when the worker was quicker than the page's answer.
    expect(page.locator("#run-status")).to_have_text(
        re.compile(r"^(CancelRequested|Canceled)$"), timeout=2_000
    )
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    expect(page.locator("#run-status")).to_have_text("Canceled", timeout=20_000)


def test_publishing_shows_publishing_then_links_to_the_published_pipeline(
    page, live_server, viewer, celery_beat
):
    run_id = submit(PIPELINES / "two_steps.yml")
    wait_for_status(run_id, {RunStatus.COMPLETED})
    run = wait_for(
        lambda: PipelineRun.objects.filter(external_id=run_id, status=RunStatus.COMPLETED).first(),
        what="the mirrored run",
    )
    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    page.locator("summary", has_text="Publish this pipeline").click()
    page.get_by_label("Name").fill("greeter")
    page.get_by_role("button", name="Publish").click()

    link = page.get_by_role("link", name="open the published pipeline")
    expect(link).to_be_visible(timeout=15_000)
    link.click()
    expect(page.locator("h1")).to_contain_text("greeter")


def test_a_step_log_header_says_how_the_step_ended_and_its_tail_stops(page, live_server, viewer, celery_beat):
    run_id = submit(PIPELINES / "two_steps.yml")
    run = wait_for(lambda: PipelineRun.objects.filter(external_id=run_id).first(), what="the mirrored run")
    log_in(page, live_server, "viewer", "viewer-pass-123")
    wait_for(lambda: run.steps.filter(node_id="read").exists(), what="the mirrored steps")
    page.goto(f"{live_server.url}{run.get_absolute_url()}steps/read/logs/stdout/")

    expect(page.locator("#step-title")).to_contain_text("Completed", timeout=20_000)
    expect(page.locator("#live-note")).to_contain_text("The step ended Completed (exit code 0)")
    expect(page.locator("#step-facts")).to_contain_text("Exit code")
    expect(page.locator("#log-tail")).to_have_count(0)  # no more polls
    expect(page.locator("#log")).to_contain_text("hello from write")


def test_the_actions_page_names_each_target_and_shows_it_as_it_is_now(
    page, live_server, operator, celery_beat
):
    run_id = submit(PIPELINES / "sleeper.yml")
    wait_for_status(run_id, {RunStatus.RUNNING})
    run = wait_for(lambda: PipelineRun.objects.filter(external_id=run_id).first(), what="the mirrored run")
    log_in(page, live_server, "operator", "operator-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    page.get_by_role("button", name="Cancel run").click()
    expect(page.locator("#run-status")).to_have_text("Canceled", timeout=20_000)

    page.goto(f"{live_server.url}/actions/")
    row = page.locator("table.actions tbody tr").first
    expect(row).to_contain_text(run_id)  # the run's id beside its name
    expect(row).to_contain_text("run on local")
    expect(row).to_contain_text("Run now: Canceled")
