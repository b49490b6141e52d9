"""A step's task that dies or loses the database: nothing of the step runs on unseen.

The task is killed with SIGKILL on a real worker; the database is made unreachable through a TCP proxy between
the task's process and PostgreSQL, stalled (a link gone silent) or cut (connections reset, new ones refused)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from backends.base import RunStatus
from backends.local import executor, hosts, tasks
from backends.local.engine import submit_spec
from backends.local.models import LocalStep
from backends.local.spec import load_pipeline
from tests.integration.helpers import PIPELINES, ROOT, submit, wait_for
from tests.tcpproxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
S = RunStatus
LOSS_LIMIT = 6  # RUNBOARD_DATABASE_LOSS_LIMIT of the task under test: seconds after its last heartbeat
TERM_GRACE = 2


def no_process_of(step_id: str) -> bool:
    return step_id not in hosts.step_groups()


def step_of_run(run_id: str, node: str = "sleep") -> LocalStep:
    return LocalStep.objects.get(run_id=run_id, node_id=node)


def test_killing_the_task_of_a_running_step_leaves_no_process_of_it(celery_worker):
    run_id = submit(PIPELINES / "sleeper.yml")
    step = wait_for(
        lambda: LocalStep.objects.filter(run_id=run_id, node_id="sleep", status=S.RUNNING).first(),
        what="the step to run",
    )
    wait_for(lambda: step.pk in hosts.step_groups(), 5, "its processes")
    assert step.host == executor.HOST and step.task_pid != step.pid

    os.kill(step.task_pid, signal.SIGKILL)

    started = time.monotonic()
    wait_for(lambda: no_process_of(step.pk), 10, "every process of the step to end")
    step = wait_for(
        lambda: LocalStep.objects.filter(pk=step.pk, status=S.FAILED).first(), 10, "the step to fail"
    )
    assert time.monotonic() - started < 10  # the reaper's, not the heartbeat check's minute
    assert "ended while it ran" in step.error


TASK = """
import os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django.setup()
from backends.local.stepexec import execute_step
execute_step(sys.argv[1])
"""


@pytest.fixture
def task_behind_proxy(engine_dir, monkeypatch, tmp_path):
    """Runs a sleeper run's first step in a process of its own, as its Celery task would, with its database
    connections through a proxy the test controls. Yields (step, task process, proxy)."""
    conf = connection.settings_dict
    if not conf["ENGINE"].endswith("postgresql"):
        pytest.skip("losing the database is a PostgreSQL matter: SQLite is a local file")
    queued: list[str] = []
    # This test runs the task itself: what would be sent to the steps queue is kept here instead.
    monkeypatch.setattr(tasks.run_step, "apply_async", lambda args, **options: queued.append(args[0]))
    run = submit_spec(load_pipeline(PIPELINES / "sleeper.yml"))
    step = wait_for(lambda: step_of_run(run.pk) if queued else None, 5, "the step to be queued")
    proxy = TcpProxy((conf["HOST"] or "127.0.0.1", int(conf["PORT"] or 5432)))
    url = f"postgres://{conf['USER'] or ''}@127.0.0.1:{proxy.port}/{conf['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "RUNBOARD_LOCAL_ENGINE_DIR": str(engine_dir),
        "RUNBOARD_DATABASE_LOSS_LIMIT": str(LOSS_LIMIT),
        "RUNBOARD_DATABASE_TIMEOUT": "1",
    }
    log = (tmp_path / "task.log").open("wb")
    task = subprocess.Popen(
        [sys.executable, "-c", TASK, step.pk], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for(lambda: step_of_run(run.pk).status == S.RUNNING, 30, "the step to run")
        wait_for(lambda: step.pk in hosts.step_groups(), 5, "its processes")
        yield step_of_run(run.pk), task, proxy
    finally:
        proxy.close()
        task.kill()
        task.wait()
        log.close()
        hosts.kill_groups(hosts.step_groups().get(step.pk, set()))


def fresh_heartbeat(step: LocalStep, since: float) -> bool:
    beat = LocalStep.objects.get(pk=step.pk).heartbeat_at
    return beat is not None and beat.timestamp() > since


def test_a_task_cut_off_from_the_database_stops_its_step_within_the_bound(task_behind_proxy):
    step, task, proxy = task_behind_proxy

    proxy.stall()
    stalled = time.monotonic()
    wait_for(lambda: no_process_of(step.pk), LOSS_LIMIT + TERM_GRACE + 4, "the task to stop its step")
    took = time.monotonic() - stalled
    # Counted from the last heartbeat written, at most HEARTBEAT_SECONDS before the stall.
    assert LOSS_LIMIT - executor.HEARTBEAT_SECONDS - 0.5 < took < LOSS_LIMIT + TERM_GRACE + 3, took
    proxy.resume()

    assert task.wait(timeout=30) == 0
    step = LocalStep.objects.get(pk=step.pk)
    assert step.status == S.FAILED
    assert f"lost the database for more than {LOSS_LIMIT} s" in step.error


def test_a_short_outage_does_not_stop_a_healthy_step(task_behind_proxy):
    step, task, proxy = task_behind_proxy

    for outage in (proxy.cut, proxy.stall):  # reset connections, then a silent link
        outage()
        time.sleep(LOSS_LIMIT / 3)
        # Meanwhile the heartbeat check, on the other side, found the step silent.
        LocalStep.objects.filter(pk=step.pk).update(status=S.NOT_RESPONDING)
        back = time.time()
        proxy.resume()
        wait_for(lambda b=back: fresh_heartbeat(step, b), 10, "the heartbeats to come back")
        wait_for(lambda: step_of_run(step.run_id).status == S.RUNNING, 5, "the step to be Running again")
        assert task.poll() is None and step.pk in hosts.step_groups()

    executor.cancel_run(step.run_id)
    assert task.wait(timeout=30) == 0
    assert LocalStep.objects.get(pk=step.pk).status == S.CANCELED
    assert no_process_of(step.pk)


def test_a_task_that_finds_its_step_failed_when_the_database_is_back_stops_it(task_behind_proxy):
    step, task, proxy = task_behind_proxy

    proxy.cut()
    assert step.pk in hosts.step_groups()
    # The other side declared it Failed while the task could not be reached. (This host's reaper, in a steps
    # worker that may be running beside the test, may end it first: either way nothing of it is left.)
    LocalStep.objects.filter(pk=step.pk).update(status=S.FAILED, error="stopped responding")
    proxy.resume()

    wait_for(lambda: no_process_of(step.pk), 10, "the task to stop its step")
    assert task.wait(timeout=30) == 0
    assert LocalStep.objects.get(pk=step.pk).status == S.FAILED
