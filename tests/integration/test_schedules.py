"""Schedules in the local engine: exactly-once fires, catch-up after downtime, folders watched, switching off."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from backends.base import Conflict, FireStatus, RunStatus
from backends.local.models import LocalPublishedPipeline, LocalRun, LocalSchedule, LocalScheduleFire
from backends.local.scheduler import fire_due_schedules, register_schedule_file
from backends.registry import get_backend
from runs.models import PublishedPipeline
from runs.sync import sync_backend
from schedules.models import Schedule, ScheduleFire
from tests.conftest import ROOT, start_celery, stop_process
from tests.integration.helpers import (
    PIPELINES,
    read_whole_log,
    steps_by_node,
    submit,
    wait_for,
    wait_for_status,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
EXAMPLES = ROOT / "examples" / "schedules"


def schedule_file(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(f"name: {name}\n{body}")
    return path


def every_minute(tmp_path: Path, name: str = "minutely") -> LocalSchedule:
    body = (
        "trigger:\n  type: recurrence\n  frequency: minute\n  interval: 1\n"
        f"create_job:\n  type: pipeline\n  job: {PIPELINES / 'two_steps.yml'}\n"
        "  inputs:\n    greeting: fired at ${{creation_context.trigger_time}}\n"
    )
    # Created a day ago, so its slots reach back that far.
    return register_schedule_file(schedule_file(tmp_path, name, body), now=timezone.now() - timedelta(days=1))


def rewind(schedule: LocalSchedule, minutes: float) -> None:
    """As if the scheduler had been stopped for a while: its last slot lies in the past."""
    LocalSchedule.objects.filter(pk=schedule.pk).update(last_slot=timezone.now() - timedelta(minutes=minutes))


def test_every_example_schedule_registers(engine_dir):
    names = {register_schedule_file(path).pk for path in sorted(EXAMPLES.glob("*.yml"))}
    assert len(names) == 5
    kinds = {s.trigger["type"] for s in LocalSchedule.objects.all()}
    assert kinds == {"cron", "recurrence", "change"}


def test_a_due_slot_fires_once_and_starts_a_run_with_the_trigger_time(engine_dir, redis_url, tmp_path):
    schedule = every_minute(tmp_path)
    rewind(schedule, 1.5)

    fires = fire_due_schedules()
    again = fire_due_schedules()

    assert len(fires) == 1 and again == []
    fire = LocalScheduleFire.objects.get(status=FireStatus.FIRED)
    assert fire.run is not None and fire.run.submitted_by == "schedule minutely"
    stamp = fire.fire_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert fire.run.parameters["greeting"] == f"fired at {stamp}"
    assert fire.fire_time.second == 0 and fire.fire_time <= timezone.now()


def test_after_downtime_it_fires_once_and_records_the_skipped_slots(engine_dir, redis_url, tmp_path):
    schedule = every_minute(tmp_path)
    rewind(schedule, 30)

    fire_due_schedules()

    fired = LocalScheduleFire.objects.filter(status=FireStatus.FIRED)
    skipped = LocalScheduleFire.objects.filter(status=FireStatus.SKIPPED)
    assert fired.count() == 1 and LocalRun.objects.count() == 1
    assert 29 <= skipped.count() <= 30
    assert "skipped" in fired.get().reason and all(s.run_id is None for s in skipped)
    assert max(s.fire_time for s in skipped) < fired.get().fire_time


def test_a_disabled_schedule_does_not_fire_and_owes_nothing_once_enabled(engine_dir, redis_url, tmp_path):
    schedule = every_minute(tmp_path)
    engine = get_backend("local")
    engine.set_schedule_enabled(schedule.pk, False)
    rewind(schedule, 10)

    assert fire_due_schedules() == []
    engine.set_schedule_enabled(schedule.pk, True)
    assert fire_due_schedules() == []  # the slots that passed while it was off are not owed
    assert not LocalScheduleFire.objects.exists()


def test_two_beat_processes_never_start_a_slot_twice(celery_worker, redis_url, tmp_path):
    schedules = [every_minute(tmp_path, f"race-{i}") for i in range(4)]
    for schedule in schedules:
        rewind(schedule, 3)
    env = {"REDIS_URL": redis_url, "RUNBOARD_SCHEDULE_TICK": "1"}
    beats = [
        start_celery("beat", "-s", str(tmp_path / f"beat-{i}"), "--pidfile=", "-l", "warning", env=env)
        for i in range(2)
    ]
    try:
        wait_for(
            lambda: LocalScheduleFire.objects.filter(status=FireStatus.FIRED).count() >= 4,
            timeout=30,
            what="fires",
        )
        time.sleep(4)  # both beats keep sending ticks meanwhile
    finally:
        for beat in beats:
            stop_process(beat)

    fired = list(LocalScheduleFire.objects.filter(status=FireStatus.FIRED))
    assert len({(f.schedule_id, f.fire_time) for f in fired}) == len(fired)
    runs = LocalRun.objects.filter(submitted_by__startswith="schedule race-")
    assert runs.count() == len(fired)
    for schedule in schedules:
        assert LocalScheduleFire.objects.filter(schedule=schedule, status=FireStatus.FIRED).count() in (1, 2)


@pytest.fixture
def greeter(celery_worker):
    """A published pipeline named greeter, as v1 schedules run published pipelines."""
    run_id = submit(PIPELINES / "two_steps.yml", greeting="published")
    wait_for_status(run_id, set(RunStatus.TERMINAL))
    return get_backend("local").publish_pipeline(run_id, "greeter", "", "1", False)


def watcher(tmp_path: Path, folder: Path) -> LocalSchedule:
    body = (
        f"pipeline_id: greeter\nexperiment_name: on-data\ndatastore: {folder}\n"
        "polling_interval: 1\ndata_path_parameter_name: greeting\n"
    )
    return register_schedule_file(schedule_file(tmp_path, "on-data", body))


def test_a_new_or_changed_file_starts_a_run_with_its_path_but_subfolders_do_not(greeter, tmp_path):
    folder = tmp_path / "incoming"
    (folder / "sub").mkdir(parents=True)
    (folder / "old.csv").write_text("here before the schedule")
    watcher(tmp_path, folder)
    now = timezone.now()

    assert fire_due_schedules(now) == []  # files already there do not count
    (folder / "new.csv").write_text("a,b\n1,2\n")
    (folder / "sub" / "deep.csv").write_text("not watched")
    assert fire_due_schedules(now + timedelta(seconds=30)) == []  # not polled again before the interval
    fires = fire_due_schedules(now + timedelta(minutes=1, seconds=1))

    assert [f.trigger_path for f in fires] == [str(folder / "new.csv")]
    run = fires[0].run
    assert run.published_id == greeter.id and run.parameters["greeting"] == str(folder / "new.csv")
    assert wait_for_status(run.pk, set(RunStatus.TERMINAL)) == RunStatus.COMPLETED
    assert read_whole_log(run.pk, steps_by_node(run.pk)["read"].id, "stdout").startswith(
        str(folder / "new.csv")
    )

    (folder / "old.csv").write_text("changed now")
    os.utime(folder / "old.csv", ns=(time.time_ns(), time.time_ns() + 10**9))
    later = fire_due_schedules(now + timedelta(minutes=2, seconds=2))
    assert [f.trigger_path for f in later] == [str(folder / "old.csv")]


def test_a_fire_whose_published_pipeline_is_gone_is_recorded_as_failed(engine_dir, redis_url, tmp_path):
    body = "pipeline_id: nowhere\nexperiment_name: x\nrecurrence:\n  frequency: Minute\n  interval: 1\n"
    schedule = register_schedule_file(
        schedule_file(tmp_path, "orphan", body), now=timezone.now() - timedelta(hours=1)
    )
    rewind(schedule, 1.5)

    fire_due_schedules()

    fire = LocalScheduleFire.objects.exclude(status=FireStatus.SKIPPED).get()
    assert fire.status == FireStatus.FAILED and "no published pipeline named 'nowhere'" in fire.reason


def test_disabling_a_published_pipeline_is_refused_while_an_enabled_schedule_uses_it(greeter, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    schedule = watcher(tmp_path, folder)
    engine = get_backend("local")

    with pytest.raises(Conflict, match="on-data"):
        engine.set_published_pipeline_enabled(greeter.id, False)
    assert LocalPublishedPipeline.objects.get(pk=greeter.id).status == "Active"

    engine.set_schedule_enabled(schedule.pk, False)
    assert engine.set_published_pipeline_enabled(greeter.id, False).status == "Disabled"


def test_the_refusal_reaches_the_user_as_a_failed_action_naming_the_schedule(greeter, tmp_path, manager):
    from runs.actions import published_set_enabled

    folder = tmp_path / "incoming"
    folder.mkdir()
    watcher(tmp_path, folder)
    sync_backend("local")
    published = PublishedPipeline.objects.get(external_id=greeter.id)

    with transaction.atomic():
        action = published_set_enabled(published=published, user=manager, enabled=False)
    from dashboard.models import Action

    action = wait_for(lambda: Action.objects.filter(pk=action.pk, status__in=["succeeded", "failed"]).first())
    assert action.status == "failed" and "on-data" in action.error
    published.refresh_from_db()
    assert published.status == "Active"


def test_sync_mirrors_schedules_their_fires_and_runs(engine_dir, celery_worker, tmp_path):
    schedule = every_minute(tmp_path)
    rewind(schedule, 2.5)
    fire_due_schedules()

    sync_backend("local")

    mirrored = Schedule.objects.get(external_id=schedule.pk)
    assert mirrored.enabled and mirrored.kind == "recurrence"
    assert mirrored.description_in_words == "every minute"
    fires = list(ScheduleFire.objects.filter(schedule=mirrored).order_by("fire_time"))
    assert [f.status for f in fires] == ["Skipped", "Fired"] or [f.status for f in fires] == [
        "Skipped",
        "Skipped",
        "Fired",
    ]
    assert fires[-1].run is not None and fires[-1].run.external_id == LocalRun.objects.get().pk
    assert len(mirrored.next_fire_times(10)) == 10


def test_the_schedule_command_creates_lists_disables_and_enables(engine_dir, redis_url, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("schedule", "create", str(EXAMPLES / "weekday-mornings.yml"), stdout=out)
    assert "weekdays at 04:00 and 04:30, Pacific time" in out.getvalue()
    call_command("schedule", "list", stdout=out)
    assert "weekday-mornings" in out.getvalue() and "enabled" in out.getvalue()

    call_command("schedule", "disable", "weekday-mornings", "--reason", "holiday", stdout=out)
    assert not LocalSchedule.objects.get(pk="weekday-mornings").enabled
    assert Schedule.objects.get(external_id="weekday-mornings").enabled is False
    from dashboard.models import Action

    assert Action.objects.get().reason == "holiday"
    call_command("schedule", "enable", "weekday-mornings", stdout=out)
    assert LocalSchedule.objects.get(pk="weekday-mornings").enabled


def test_the_example_every_15_minutes_fires_on_its_slots(engine_dir, redis_url):
    schedule = register_schedule_file(
        EXAMPLES / "every-15-minutes.yml", now=datetime(2026, 11, 21, 8, 7, tzinfo=UTC)
    )

    fires = fire_due_schedules(now=datetime(2026, 11, 21, 8, 40, tzinfo=UTC))

    assert [f.fire_time for f in fires] == [datetime(2026, 11, 21, 8, 37, tzinfo=UTC)]
    assert [f.fire_time for f in LocalScheduleFire.objects.filter(status="Skipped")] == [
        datetime(2026, 11, 21, 8, 22, tzinfo=UTC)
    ]
    assert schedule.trigger["frequency"] == "minute"


def test_a_schedule_whose_published_pipeline_does_not_exist_says_so_and_cannot_be_enabled(
    engine_dir, redis_url
):
    schedule = register_schedule_file(EXAMPLES / "v1-daily-retrain.yml")
    engine = get_backend("local")

    (info,) = [s for s in engine.list_schedules() if s.id == schedule.pk]
    with pytest.raises(Conflict) as refused:
        engine.set_schedule_enabled(schedule.pk, True)

    assert info.missing == "published pipeline 'house-prices' does not exist"
    assert "cannot be enabled: published pipeline 'house-prices' does not exist" in str(refused.value)
    assert not LocalSchedule.objects.get(pk=schedule.pk).enabled
    sync_backend("local", now=True)
    assert Schedule.objects.get(external_id=schedule.pk).missing == info.missing
