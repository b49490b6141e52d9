"""The mirror only moves forward. A sync pass that read a backend before an action changed it must not write
its older read over the change the action already mirrored: the page that answered the action would show the
change, then the old state again, and stop following (the schedules list stopped polling on a stale Enabled)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends.base import RunStatus
from backends.local.scheduler import register_schedule_file
from backends.registry import get_backend
from dashboard.actions import action_perform
from dashboard.models import Action
from runs.models import PipelineRun, PublishedPipeline
from schedules.actions import schedule_set_enabled
from schedules.models import Schedule
from schedules.sync import mirror_schedule, sync_schedules
from tests import factories
from tests.integration.helpers import PIPELINES

pytestmark = pytest.mark.django_db


def test_a_pass_that_read_before_a_disable_leaves_the_schedule_disabled(tmp_path, admin_user):
    path = tmp_path / "nightly.yml"
    path.write_text(
        "name: nightly\ntrigger:\n  type: recurrence\n  frequency: hour\n  interval: 1\n"
        f"create_job: {PIPELINES / 'two_steps.yml'}\n"
    )
    register_schedule_file(path, now=timezone.now() - timedelta(minutes=5))
    backend = get_backend("local")
    sync_schedules(backend)
    schedule = Schedule.objects.get(backend="local", external_id="nightly")
    assert schedule.enabled

    read_before = backend.list_schedules()  # a sync pass reads here...
    action = schedule_set_enabled(schedule=schedule, user=admin_user, enabled=False)
    assert action_perform(action.pk).status == Action.Status.SUCCEEDED
    for info in read_before:  # ...and writes after the action mirrored its change
        mirror_schedule(backend, info)
    assert not Schedule.objects.get(pk=schedule.pk).enabled

    sync_schedules(backend)  # the next pass reads the new state and agrees
    assert not Schedule.objects.get(pk=schedule.pk).enabled
    action = schedule_set_enabled(schedule=schedule, user=admin_user, enabled=True)
    action_perform(action.pk)
    sync_schedules(backend)
    assert Schedule.objects.get(pk=schedule.pk).enabled  # newer reads still go through


def test_an_older_read_of_a_run_never_replaces_a_newer_one():
    then = timezone.now()
    factories.run(external_id="r1", status=RunStatus.CANCEL_REQUESTED, updated_at=then)
    factories.run(external_id="r1", status=RunStatus.RUNNING, updated_at=then - timedelta(seconds=1))
    assert PipelineRun.objects.get(external_id="r1").status == RunStatus.CANCEL_REQUESTED

    factories.run(external_id="r1", status=RunStatus.CANCELED, updated_at=then + timedelta(seconds=1))
    assert PipelineRun.objects.get(external_id="r1").status == RunStatus.CANCELED
    factories.run(external_id="r1", status=RunStatus.FAILED)  # a backend that gives no time is trusted
    assert PipelineRun.objects.get(external_id="r1").status == RunStatus.FAILED


def test_an_older_read_of_a_published_pipeline_never_replaces_a_newer_one():
    then = timezone.now()
    factories.published(external_id="p1", status="Disabled", updated_at=then)
    factories.published(external_id="p1", status="Active", updated_at=then - timedelta(seconds=1))
    assert PublishedPipeline.objects.get(external_id="p1").status == "Disabled"
    factories.published(external_id="p1", status="Active", updated_at=then + timedelta(seconds=1))
    assert PublishedPipeline.objects.get(external_id="p1").status == "Active"


def test_an_older_read_of_a_schedule_never_replaces_a_newer_one():
    then = timezone.now()
    factories.schedule(external_id="s1", enabled=False, updated_at=then)
    factories.schedule(external_id="s1", enabled=True, updated_at=then - timedelta(seconds=1))
    assert not Schedule.objects.get(external_id="s1").enabled
    factories.schedule(external_id="s1", enabled=True, updated_at=then + timedelta(seconds=1))
    assert Schedule.objects.get(external_id="s1").enabled
