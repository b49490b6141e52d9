"""A database outage around a step's processes is waited out: the step ends as its processes did.

The step's task runs here (``execute_step``) with one of the writes that record its processes failing as a lost
connection fails: before the write reaches the database, or after it committed and its answer was lost. Each
write is one of the task's between starting the processes and its end (marking the step Running, the run's
status, the step's end, moving the run on); the heartbeats and status reads of the watch in between are
tests/integration/test_step_faults.py's, through a real proxy on PostgreSQL."""

from __future__ import annotations

import time

import pytest
from django.db import OperationalError

from backends.base import RunStatus
from backends.local import executor, hosts, stepexec, tasks
from backends.local.engine import submit_spec
from backends.local.models import LocalRun, LocalStep
from backends.local.spec import load_pipeline

pytestmark = pytest.mark.django_db(transaction=True)
S = RunStatus
LOST = "consuming input failed: server closed the connection unexpectedly"


@pytest.fixture
def queued_step(engine_dir, monkeypatch, tmp_path):
    """Returns a function that submits a one-step pipeline running ``command`` and gives its queued step; the test
    runs the step's task itself."""
    monkeypatch.setattr(tasks.run_step, "apply_async", lambda args, **options: None)

    def make(command: str) -> LocalStep:
        path = tmp_path / "pipeline.yml"
        path.write_text(f"type: pipeline\njobs:\n  hello:\n    command: {command}\n")
        run = submit_spec(load_pipeline(path))
        step = run.steps.get()
        assert step.status == S.QUEUED
        return step

    return make


def failing(monkeypatch, name: str, *, times: int, committed: bool, when=lambda *a, **k: True) -> list[int]:
    """Makes stepexec's ``name`` fail as a lost connection does, on its first ``times`` calls that ``when``
    accepts; with ``committed``, after doing its work. Returns the count of failures, as a one-item list."""
    real = getattr(stepexec, name)
    failures = [0]

    def flaky(*args, **kwargs):
        if when(*args, **kwargs) and failures[0] < times:
            failures[0] += 1
            if committed:
                real(*args, **kwargs)
            raise OperationalError(LOST)
        return real(*args, **kwargs)

    monkeypatch.setattr(stepexec, name, flaky)
    return failures


def marking_running(step_id, from_statuses, **fields) -> bool:
    return fields.get("status") == S.RUNNING


WRITES = {
    "the Running mark": ("set_step", marking_running),
    "the run's time": ("touch_run", lambda *a, **k: True),
    "the run's status": ("refresh_run_status", lambda *a, **k: True),
    "the step's end": ("finish", lambda *a, **k: True),
    "moving the run on": ("advance", lambda *a, **k: True),
}


@pytest.mark.parametrize("committed", [False, True], ids=["refused", "committed-answer-lost"])
@pytest.mark.parametrize("write", list(WRITES))
def test_an_outage_during_a_write_of_the_task_does_not_change_how_the_step_ends(
    queued_step, monkeypatch, write, committed
):
    step = queued_step("echo hello")
    name, when = WRITES[write]
    failures = failing(monkeypatch, name, times=3, committed=committed, when=when)

    stepexec.execute_step(step.pk)

    assert failures == [3]
    step = LocalStep.objects.get(pk=step.pk)
    assert (step.status, step.exit_code, step.error) == (S.COMPLETED, 0, "")
    assert executor.log_path(step, "stdout").read_text() == "hello\n"
    system = executor.log_path(step, "system").read_text()
    assert f"The database cannot be reached ({LOST}): trying again" in system
    assert "The database answers again" in system
    assert LocalRun.objects.get(pk=step.run_id).status == S.COMPLETED


def test_a_step_whose_start_cannot_be_recorded_past_the_loss_limit_is_stopped(
    queued_step, monkeypatch, settings
):
    settings.LOCAL_DATABASE_LOSS_SECONDS = 1
    step = queued_step("sleep 60")
    failing(monkeypatch, "touch_run", times=10**6, committed=False)

    started = time.monotonic()
    stepexec.execute_step(step.pk)  # gives up: the task ends, leaving the step to the reaper here

    assert time.monotonic() - started < 1 + 2 + 3  # the limit, the lease's SIGTERM grace, a margin
    assert step.pk not in hosts.step_groups()
    assert "trying again" in executor.log_path(step, "system").read_text()


def test_an_end_that_cannot_be_recorded_past_the_loss_limit_is_left_to_the_others(
    queued_step, monkeypatch, settings
):
    settings.LOCAL_DATABASE_LOSS_SECONDS = 1
    step = queued_step("echo hello")
    failing(monkeypatch, "finish", times=10**6, committed=False)

    started = time.monotonic()
    stepexec.execute_step(step.pk)

    assert time.monotonic() - started < 1 + 3
    # Still Running as stored: this host's reaper finds its task gone, or the heartbeat check its silence.
    assert LocalStep.objects.get(pk=step.pk).status == S.RUNNING
    assert step.pk not in hosts.step_groups()
