"""A page drawn while an action finishes shows the action's result, never the state from before it with nothing
under way (which stopped the page from following: a schedule stayed Enabled, a cancelled run stayed Running).

A worker faster than the page is played here by carrying the action out when it is enqueued, in the request that
asks for it, after the page's rows were read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends.base import RunStatus
from backends.local.engine import submit_spec
from backends.local.scheduler import register_schedule_file
from backends.local.spec import load_pipeline
from backends.registry import get_backend
from dashboard import actions
from dashboard.actions import attach_unfinished
from dashboard.models import Action
from runs.models import PipelineRun
from runs.sync import mirror_run
from schedules.models import Schedule
from schedules.sync import sync_schedules
from tests import factories
from tests.integration.helpers import PIPELINES

pytestmark = pytest.mark.django_db


@pytest.fixture
def instant_worker(monkeypatch):
    """Every action is carried out the moment it is sent, before the request that asked for it draws its page."""

    def enqueue(action_id: int, countdown: int = 0) -> bool:
        actions.action_perform(action_id)
        return True

    monkeypatch.setattr(actions, "_enqueue", enqueue)
    # Sent at once, not when the test's transaction would commit: the action ends within the request.
    monkeypatch.setattr(actions.transaction, "on_commit", lambda callback, *args, **kwargs: callback())


def test_rows_read_before_an_action_finished_are_shown_as_it_left_them():
    schedule = factories.schedule(enabled=True, updated_at=timezone.now() - timedelta(minutes=1))
    rows = list(Schedule.objects.filter(pk=schedule.pk))  # the page reads its rows...
    factories.action(target=schedule, kind=Action.Kind.DISABLE_SCHEDULE, status="succeeded")
    factories.schedule(
        external_id=schedule.external_id, enabled=False, updated_at=timezone.now()
    )  # ...it ends

    attach_unfinished("schedule", rows)

    assert rows[0].pending_action is None and not rows[0].enabled


def test_a_cancel_carried_out_before_its_answer_is_drawn_shows_the_run_cancelled(
    operator_client, instant_worker, engine_dir
):
    local = get_backend("local")
    run = mirror_run(local, local.get_run(submit_spec(load_pipeline(PIPELINES / "sleeper.yml")).pk))
    assert run.status not in RunStatus.TERMINAL

    page = operator_client.post(f"/runs/{run.pk}/cancel", headers={"HX-Request": "true"})

    assert Action.objects.get().status == Action.Status.SUCCEEDED
    mirrored = PipelineRun.objects.get(pk=run.pk).status
    assert mirrored in (RunStatus.CANCEL_REQUESTED, RunStatus.CANCELED)
    status = page.content.decode().split('id="run-status">')[1].split("<")[0]
    assert status == mirrored  # not Running


def test_a_schedule_switched_off_while_its_list_is_drawn_shows_off(manager_client, tmp_path, monkeypatch):
    path = tmp_path / "nightly.yml"
    path.write_text(
        "name: nightly\ntrigger:\n  type: recurrence\n  frequency: hour\n  interval: 1\n"
        f"create_job: {PIPELINES / 'two_steps.yml'}\n"
    )
    register_schedule_file(path, now=timezone.now() - timedelta(minutes=5))
    sync_schedules(get_backend("local"))
    schedule = Schedule.objects.get(external_id="nightly")
    action = factories.action(target=schedule, kind=Action.Kind.DISABLE_SCHEDULE, params={"enabled": False})

    # The worker finishes it while the list is drawn: after its rows were read, before their actions.
    monkeypatch.setattr("schedules.views.attach_unfinished", _after_rows(attach_unfinished, action.pk))
    page = manager_client.get("/schedules/").content.decode()

    row = page.split('<tr id="schedule-')[1]
    assert "Disabled" in row and ">Enable</button>" in row


def _after_rows(attach, action_pk):
    """attach_unfinished, with the action finishing just before it looks (the worst moment for the page)."""

    def attach_late(target_type, targets):
        if Action.objects.filter(pk=action_pk, status=Action.Status.PENDING).exists():
            actions.action_perform(action_pk)
        return attach(target_type, targets)

    return attach_late
