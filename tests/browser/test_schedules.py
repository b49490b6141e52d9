"""In Chromium: a schedule manager switches a schedule off from the list; its next slot starts no run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from backends.local.models import LocalRun, LocalSchedule, LocalScheduleFire
from backends.local.scheduler import fire_due_schedules, register_schedule_file
from schedules.models import Schedule
from tests.browser.conftest import log_in
from tests.integration.helpers import PIPELINES, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_disables_a_schedule_from_the_list_and_its_next_slot_starts_nothing(
    page, live_server, manager, celery_beat, tmp_path
):
    path = tmp_path / "minutely.yml"
    path.write_text(
        "name: minutely\ndisplay_name: Every minute\n"
        "trigger:\n  type: recurrence\n  frequency: minute\n  interval: 1\n"
        f"create_job: {PIPELINES / 'two_steps.yml'}\n"
    )
    register_schedule_file(path, now=timezone.now() - timedelta(hours=1))
    wait_for(
        lambda: Schedule.objects.filter(name="minutely").exists(), what="beat's sync to mirror the schedule"
    )
    log_in(page, live_server, "manager", "manager-pass-123")
    # The header's link: the overview, where logging in lands, has a count of schedules too.
    page.get_by_role("banner").get_by_role("link", name="Schedules").click()
    row = page.locator("tr", has_text="Every minute")
    expect(row).to_contain_text("every minute")
    expect(row.locator(".schedule-status")).to_have_text("Enabled")

    row.get_by_role("button", name="Disable").click()

    expect(page.locator(".messages")).to_contain_text("Disable schedule")  # the POST's answer has arrived
    wait_for(
        lambda: Schedule.objects.filter(name="minutely", enabled=False).exists(),
        timeout=15,
        what="the action and the next sync to mirror the schedule Disabled",
    )
    page.reload()
    expect(page.locator("tr", has_text="Every minute").locator(".schedule-status")).to_have_text("Disabled")
    assert not LocalSchedule.objects.get(pk="minutely").enabled
    runs_before = LocalRun.objects.count()
    fires_before = LocalScheduleFire.objects.count()

    # Its next slots come (as if minutes passed); the engine, beat included, starts nothing.
    LocalSchedule.objects.filter(pk="minutely").update(last_slot=timezone.now() - timedelta(minutes=5))
    assert fire_due_schedules() == []
    page.wait_for_timeout(3000)
    assert LocalRun.objects.count() == runs_before
    assert LocalScheduleFire.objects.count() == fires_before
    page.get_by_role("link", name="Actions").click()
    expect(page.locator("table.actions tbody tr").first).to_contain_text("Disable schedule")
