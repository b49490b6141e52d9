"""A step whose worker stops sending heartbeats becomes NotResponding, then Failed, and its processes end."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from backends.base import RunStatus
from backends.local import executor
from backends.local.engine import submit_spec
from backends.local.models import LocalRun, LocalStep
from backends.local.spec import load_pipeline
from tests.integration.helpers import PIPELINES, processes_in_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def orphaned_step(engine_dir):
    """A running step whose worker is gone: its process lives on, its heartbeat stopped 20 s ago."""
    run = submit_spec(load_pipeline(PIPELINES / "sleeper.yml"))
    process = subprocess.Popen(["sleep", "300"], start_new_session=True)
    step = run.steps.get(node_id="sleep")
    LocalStep.objects.filter(pk=step.pk).update(
        status=RunStatus.RUNNING,
        host=executor.HOST,
        pid=process.pid,
        started_at=timezone.now() - timedelta(minutes=1),
        heartbeat_at=timezone.now() - timedelta(seconds=20),
    )
    LocalRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    yield run, step, process
    process.kill()
    process.wait()


def test_a_step_without_heartbeat_is_marked_not_responding(orphaned_step):
    run, step, process = orphaned_step

    executor.check_heartbeats()

    assert LocalStep.objects.get(pk=step.pk).status == RunStatus.NOT_RESPONDING
    assert LocalRun.objects.get(pk=run.pk).status == RunStatus.NOT_RESPONDING
    assert process.poll() is None  # it may still come back


def test_a_step_silent_for_a_minute_fails_and_its_processes_are_killed(orphaned_step):
    run, step, process = orphaned_step
    executor.check_heartbeats()

    executor.check_heartbeats(now=timezone.now() + timedelta(seconds=61))

    step = LocalStep.objects.get(pk=step.pk)
    assert step.status == RunStatus.FAILED
    assert "stopped responding" in step.error
    assert process.wait(timeout=5) == -9
    assert processes_in_group(process.pid) == []
    assert LocalStep.objects.get(run=run, node_id="after").status == RunStatus.CANCELED
    assert LocalRun.objects.get(pk=run.pk).status == RunStatus.FAILED


def test_stopping_runboard_fails_the_steps_running_here_and_kills_them(orphaned_step):
    run, step, process = orphaned_step

    assert executor.stop_local_steps() == 1

    assert process.wait(timeout=5) == -9
    assert LocalStep.objects.get(pk=step.pk).status == RunStatus.FAILED
    assert LocalRun.objects.get(pk=run.pk).status == RunStatus.FAILED


def test_a_cancel_asked_for_before_a_stop_ends_the_run_canceled(orphaned_step):
    run, step, process = orphaned_step
    LocalRun.objects.filter(pk=run.pk).update(status=RunStatus.CANCEL_REQUESTED)
    LocalStep.objects.filter(pk=step.pk).update(status=RunStatus.CANCEL_REQUESTED)

    assert executor.stop_local_steps() == 1

    assert process.wait(timeout=5) == -9
    assert LocalStep.objects.get(pk=step.pk).status == RunStatus.CANCELED
    assert LocalRun.objects.get(pk=run.pk).status == RunStatus.CANCELED


def test_a_run_cancelled_while_a_step_fails_on_its_way_out_ends_canceled(orphaned_step):
    run, step, _ = orphaned_step
    LocalRun.objects.filter(pk=run.pk).update(status=RunStatus.CANCEL_REQUESTED)
    executor.finish(step, RunStatus.FAILED, exit_code=143, error="Exit code 143")  # SIGTERM'd by the cancel
    executor.advance(run.pk)

    assert LocalRun.objects.get(pk=run.pk).status == RunStatus.CANCELED
