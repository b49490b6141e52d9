"""Each steps worker reaps its own host's step processes that nothing watches (backends/local/reaper.py): those of
steps that are over or being cancelled for too long, and those whose task died; never another host's."""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from backends.base import RunStatus
from backends.local import executor, hosts, reaper
from backends.local.engine import submit_spec
from backends.local.models import LocalRun, LocalStep
from backends.local.spec import load_pipeline
from tests.integration.helpers import PIPELINES, wait_for

pytestmark = pytest.mark.django_db
S = RunStatus
ANOTHER_HOST = hosts.make_host_id(hosts.hostname_of(executor.HOST), "another-boot", "4026532999")


@pytest.fixture
def step_processes(engine_dir):
    """Start ``sleep 300`` (and a child of it in the background) as the processes of a step of a sleeper run."""
    started: list[subprocess.Popen] = []

    def start(status: str, host: str = executor.HOST, **fields) -> tuple[LocalStep, subprocess.Popen]:
        run = submit_spec(load_pipeline(PIPELINES / "sleeper.yml"))
        step = run.steps.get(node_id="sleep")
        process = subprocess.Popen(
            ["/bin/bash", "-c", "sleep 300 & sleep 300; wait"],
            env={**os.environ, "RUNBOARD_STEP_ID": step.pk},
            start_new_session=True,
        )
        started.append(process)
        LocalStep.objects.filter(pk=step.pk).update(
            status=status, host=host, pid=process.pid, heartbeat_at=timezone.now(), **fields
        )
        LocalRun.objects.filter(pk=run.pk).update(status=S.RUNNING)
        wait_for(lambda: step.pk in hosts.step_groups(), 5, "the step's processes")
        return LocalStep.objects.get(pk=step.pk), process

    yield start
    for process in started:
        hosts.kill_groups({process.pid})
        process.wait()


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("status", [S.COMPLETED, S.FAILED, S.CANCELED])
def test_the_processes_of_a_step_that_is_over_are_killed(step_processes, status):
    step, process = step_processes(status)

    assert reaper.reap() == [step.pk]

    assert process.wait(timeout=5) == -signal.SIGKILL
    wait_for(lambda: step.pk not in hosts.step_groups(), 5, "no process of the step")
    assert "Killed what was left of it" in executor.log_path(step, "system").read_text()


def test_another_hosts_steps_are_never_signalled_even_when_their_processes_show_here(step_processes):
    _, process = step_processes(S.CANCELED, host=ANOTHER_HOST)
    running, running_process = step_processes(S.RUNNING, host=ANOTHER_HOST, task_pid=dead_pid())

    assert reaper.reap() == []

    assert process.poll() is None and running_process.poll() is None
    assert LocalStep.objects.get(pk=running.pk).status == S.RUNNING


def test_a_step_being_cancelled_is_left_to_its_task_for_the_grace_then_killed(step_processes):
    step, process = step_processes(S.CANCEL_REQUESTED, task_pid=os.getpid())

    assert reaper.reap() == []
    assert process.poll() is None

    later = timezone.now() + reaper.CANCEL_REAP_AFTER + timedelta(seconds=1)
    assert reaper.reap(now=later) == [step.pk]
    assert process.wait(timeout=5) == -signal.SIGKILL


def test_a_running_step_whose_task_is_alive_is_left_alone(step_processes):
    step, process = step_processes(S.RUNNING, task_pid=os.getpid())

    assert reaper.reap() == []

    assert process.poll() is None
    assert LocalStep.objects.get(pk=step.pk).status == S.RUNNING


def test_a_step_whose_task_died_fails_at_once_and_its_processes_are_killed(step_processes):
    step, process = step_processes(S.RUNNING, task_pid=dead_pid())

    assert reaper.reap() == [step.pk]

    assert process.wait(timeout=5) == -signal.SIGKILL
    wait_for(lambda: step.pk not in hosts.step_groups(), 5, "no process of the step")
    step = LocalStep.objects.get(pk=step.pk)
    assert step.status == S.FAILED
    assert "task running this step" in step.error and "ended while it ran" in step.error
    assert LocalRun.objects.get(pk=step.run_id).status == S.FAILED


def test_a_cancelled_step_whose_task_died_ends_canceled(step_processes):
    step, process = step_processes(S.CANCEL_REQUESTED, task_pid=dead_pid())
    LocalRun.objects.filter(pk=step.run_id).update(status=S.CANCEL_REQUESTED)

    assert reaper.reap() == [step.pk]

    assert process.wait(timeout=5) == -signal.SIGKILL
    assert LocalStep.objects.get(pk=step.pk).status == S.CANCELED
    assert LocalRun.objects.get(pk=step.run_id).status == S.CANCELED
