"""Steps on a second host that dies or loses the network: what the pages say is what runs.

Needs root (skipped, saying so, otherwise): tests/integration/secondhost.py builds the host. Marked ``hosts``:
`pytest -m hosts` runs only these; they take about two minutes, most of it the 20 s and 60 s network cuts."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.db import connection

from backends.base import RunStatus
from backends.local import executor, hosts
from backends.local.models import LocalRun, LocalStep
from dashboard.celery import app as celery_app
from tests import conftest
from tests.integration.helpers import PIPELINES, read_whole_log, submit, wait_for, wait_for_status
from tests.integration.secondhost import SecondHost, missing

pytestmark = [
    pytest.mark.integration,
    pytest.mark.hosts,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(bool(missing()), reason=missing() or "can build a second host"),
]
S = RunStatus


@pytest.fixture
def second_host(django_db_setup, redis_url, engine_dir, tmp_path):
    if not connection.settings_dict["ENGINE"].endswith("postgresql"):
        pytest.skip("a second host reaches the database over the network: needs PostgreSQL (DATABASE_URL)")
    if not redis_url.startswith("redis://"):
        pytest.skip(
            "a second host reaches Redis over the network: needs a Redis server (REDIS_URL=redis://...)"
        )
    # Only the second host runs steps meanwhile: the session's worker, if one runs, stops taking them.
    here = [worker.name for worker in conftest._running_workers]
    if here:
        celery_app.control.cancel_consumer("steps", destination=here, reply=True, timeout=5)
    host = SecondHost(
        database=connection.settings_dict,
        redis_url=redis_url,
        engine_dir=engine_dir,
        log=tmp_path / "second.log",
    )
    try:
        host.start()
        yield host
    finally:  # before the test's data is flushed: nothing of the second host writes to it any more
        host.stop()
        if here:
            celery_app.control.add_consumer("steps", destination=here, reply=True, timeout=5)


def step_of(run_id: str, node: str = "sleep") -> LocalStep:
    return LocalStep.objects.get(run_id=run_id, node_id=node)


def running_there(host: SecondHost, run_id: str) -> LocalStep:
    step = wait_for(
        lambda: LocalStep.objects.filter(run_id=run_id, node_id="sleep", status=S.RUNNING).first(),
        30,
        "the step to run on the second host",
    )
    wait_for(lambda: step.pk in hosts.step_groups(), 5, "its processes")
    assert step.host == host.host_id != executor.HOST
    assert hosts.hostname_of(step.host) == hosts.hostname_of(executor.HOST)  # one hostname, two hosts
    return step


def nothing_left(run_id: str) -> bool:
    """No process of any step of the run, on either host: this namespace's /proc shows the second host's too."""
    groups = hosts.step_groups()
    return not any(
        pk in groups for pk in LocalStep.objects.filter(run_id=run_id).values_list("pk", flat=True)
    )


def test_steps_run_on_the_second_host_and_their_logs_are_read_here(second_host):
    run_id = submit(PIPELINES / "two_steps.yml")

    assert wait_for_status(run_id, set(S.TERMINAL), timeout=60) == S.COMPLETED

    steps = {s.node_id: s for s in LocalStep.objects.filter(run_id=run_id)}
    assert {s.host for s in steps.values()} == {second_host.host_id}
    assert read_whole_log(run_id, steps["read"].pk, "stdout").strip() == "hello from write"
    assert "Started on" in read_whole_log(run_id, steps["read"].pk, "system")


def test_a_step_on_the_second_host_is_cancelled_from_here(second_host):
    run_id = submit(PIPELINES / "sleeper.yml")
    running_there(second_host, run_id)

    started = time.monotonic()
    executor.cancel_run(run_id)
    wait_for_status(run_id, set(S.TERMINAL), timeout=10)
    took = time.monotonic() - started

    assert LocalRun.objects.get(pk=run_id).status == S.CANCELED
    assert step_of(run_id).status == S.CANCELED
    assert nothing_left(run_id)
    assert took < 5, took


def test_killing_the_task_on_the_second_host_ends_its_step_and_leaves_nothing(second_host):
    run_id = submit(PIPELINES / "sleeper.yml")
    step = running_there(second_host, run_id)

    signal_sent = time.monotonic()
    os.kill(second_host.outer_pid(step.task_pid), signal.SIGKILL)

    wait_for(lambda: nothing_left(run_id), 10, "no process of the step on either host")
    step = wait_for(lambda: LocalStep.objects.filter(pk=step.pk, status=S.FAILED).first(), 10, "it to fail")
    assert time.monotonic() - signal_sent < 10  # the second host's reaper, not the heartbeat check's minute
    assert "ended while it ran" in step.error
    assert wait_for_status(run_id, set(S.TERMINAL), timeout=10) == S.FAILED


def cut_for(host: SecondHost, seconds: float, step: LocalStep) -> dict[str, float]:
    """Cut the second host off for ``seconds`` while this host's heartbeat check runs, as beat runs it; when (s
    into the cut) the step was first seen NotResponding, Failed, and without a process."""
    seen: dict[str, float] = {}
    host.cut()
    started = time.monotonic()
    try:
        while (now := time.monotonic() - started) < seconds:
            executor.check_heartbeats()
            status = step_of(step.run_id).status
            seen.setdefault(status, now)
            if step.pk not in hosts.step_groups():
                seen.setdefault("gone", now)
            time.sleep(1)
    finally:
        host.restore()
    return seen


def ended_as_beat_runs(run_id: str, timeout: float = 30) -> str:
    """The run's status once terminal, running the heartbeat check meanwhile as beat does."""

    def ended() -> str | None:
        executor.check_heartbeats()
        status = LocalRun.objects.get(pk=run_id).status
        return status if S.is_terminal(status) else None

    return wait_for(ended, timeout, f"run {run_id} to end")


def test_a_20_s_cut_leaves_a_healthy_step_running_and_a_60_s_cut_ends_it_failed_with_nothing_left(
    second_host,
):
    run_id = submit(PIPELINES / "sleeper.yml")
    step = running_there(second_host, run_id)

    short = cut_for(second_host, 20, step)

    assert S.NOT_RESPONDING in short and S.FAILED not in short and "gone" not in short, short
    back = time.time()
    wait_for(lambda: step_of(run_id).heartbeat_at.timestamp() > back, 20, "heartbeats to come back")
    wait_for(lambda: step_of(run_id).status == S.RUNNING, 5, "the step to be Running again")
    assert step.pk in hosts.step_groups()
    assert LocalRun.objects.get(pk=run_id).status == S.RUNNING

    long = cut_for(second_host, 60, step)

    # The second host stopped the step itself, before this host declared it Failed.
    # The loss limit is 50 s after the last heartbeat, written at most 2 s before the cut.
    assert 45 < long.get("gone", 60) < 55 and long["gone"] < long.get(S.FAILED, 60), long
    assert ended_as_beat_runs(run_id) == S.FAILED
    assert step_of(run_id).status == S.FAILED
    assert nothing_left(run_id)
    print(f"20 s cut: {short}; 60 s cut: {long}")  # seconds into each cut, for -s
