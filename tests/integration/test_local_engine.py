"""The local engine end to end: a real Redis, a real Celery worker process, real subprocesses."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from backends.base import RunStatus
from backends.local.models import LocalStep
from backends.registry import get_backend
from tests.integration.helpers import (
    EXAMPLES,
    PIPELINES,
    processes_in_group,
    read_whole_log,
    steps_by_node,
    submit,
    wait_for,
    wait_for_status,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TERMINAL = set(RunStatus.TERMINAL)


def test_it_runs_a_pipeline_to_completion_passing_files_between_steps(celery_worker):
    run_id = submit(PIPELINES / "two_steps.yml", greeting="bonjour")

    assert wait_for_status(run_id, TERMINAL) == RunStatus.COMPLETED
    steps = steps_by_node(run_id)
    assert [s.status for s in steps.values()] == [RunStatus.COMPLETED] * 2
    assert read_whole_log(run_id, steps["read"].id, "stdout") == "bonjour from write\n"
    assert read_whole_log(run_id, steps["read"].id, "stderr") == "read it\n"
    assert Path(steps["write"].outputs["out"], "message.txt").read_text() == "bonjour from write\n"
    assert steps["read"].inputs["message"] == steps["write"].outputs["out"]
    assert steps["write"].exit_code == 0
    system = read_whole_log(run_id, steps["write"].id, "system")
    assert "Queued" in system and "Exit code 0" in system


def test_it_runs_the_train_model_example(celery_worker):
    run_id = submit(EXAMPLES / "train-model" / "pipeline.yml", epochs=50)

    assert wait_for_status(run_id, TERMINAL, timeout=60) == RunStatus.COMPLETED
    run = get_backend("local").get_run(run_id)
    assert run.parameters["epochs"] == 50
    assert all(s.status == RunStatus.COMPLETED for s in steps_by_node(run_id).values())


def test_it_fails_the_run_and_stops_other_steps_when_a_step_fails(celery_worker):
    run_id = submit(PIPELINES / "fails.yml")

    assert wait_for_status(run_id, TERMINAL) == RunStatus.FAILED
    steps = steps_by_node(run_id)
    assert steps["first"].status == RunStatus.COMPLETED
    assert steps["broken"].status == RunStatus.FAILED
    assert steps["broken"].exit_code == 3
    assert "something broke: bad input" in steps["broken"].error
    assert steps["after"].status == RunStatus.CANCELED
    # continue_on_step_failure is off: the independent branch is stopped, not left running.
    assert steps["slow_branch"].status == RunStatus.CANCELED
    assert "broken" in get_backend("local").get_run(run_id).error


def test_it_runs_independent_branches_on_when_continue_on_step_failure_is_set(celery_worker):
    run_id = submit(EXAMPLES / "flaky-branch" / "pipeline.yml")

    assert wait_for_status(run_id, TERMINAL, timeout=60) == RunStatus.FAILED
    statuses = {name: s.status for name, s in steps_by_node(run_id).items()}
    assert statuses["check_records"] == RunStatus.FAILED
    assert statuses["publish"] == RunStatus.CANCELED  # downstream of the failure: never runs
    assert statuses["count_words"] == RunStatus.COMPLETED
    assert statuses["summarize"] == RunStatus.COMPLETED


def test_it_cancels_a_running_run_and_leaves_no_process_behind(celery_worker):
    run_id = submit(PIPELINES / "sleeper.yml")
    wait_for(
        lambda: "tick 3" in read_whole_log(run_id, steps_by_node(run_id)["sleep"].id, "stdout"),
        what="the step to print",
    )
    pgid = LocalStep.objects.get(run_id=run_id, node_id="sleep").pid
    assert len(processes_in_group(pgid)) >= 2  # bash's python and its background sleep

    requested = time.monotonic()
    status = get_backend("local").cancel_run(run_id)
    assert status == RunStatus.CANCEL_REQUESTED

    assert wait_for_status(run_id, TERMINAL, timeout=5) == RunStatus.CANCELED
    assert time.monotonic() - requested < 5
    assert processes_in_group(pgid) == []
    steps = steps_by_node(run_id)
    assert steps["sleep"].status == RunStatus.CANCELED
    assert steps["after"].status == RunStatus.CANCELED
    assert steps["after"].started_at is None


def test_cancelling_a_finished_run_is_a_no_op_success(celery_worker):
    run_id = submit(PIPELINES / "two_steps.yml", greeting="done")
    wait_for_status(run_id, TERMINAL)

    assert get_backend("local").cancel_run(run_id) == RunStatus.COMPLETED
    assert get_backend("local").get_run(run_id).status == RunStatus.COMPLETED


def test_it_fails_a_step_that_runs_past_its_timeout(celery_worker):
    run_id = submit(PIPELINES / "timeout.yml")

    started = time.monotonic()
    assert wait_for_status(run_id, TERMINAL, timeout=15) == RunStatus.FAILED
    assert time.monotonic() - started < 10
    step = steps_by_node(run_id)["slow"]
    assert step.status == RunStatus.FAILED
    assert "limits.timeout of 2 s" in step.error
    assert processes_in_group(LocalStep.objects.get(pk=step.id).pid) == []


def test_it_reuses_deterministic_steps_whose_command_code_and_inputs_match(celery_worker):
    first = submit(PIPELINES / "two_steps.yml", greeting="same")
    wait_for_status(first, TERMINAL)
    second = submit(PIPELINES / "two_steps.yml", greeting="same")
    assert wait_for_status(second, TERMINAL) == RunStatus.COMPLETED

    steps = steps_by_node(second)
    originals = steps_by_node(first)
    assert steps["write"].is_reused and steps["read"].is_reused
    assert steps["write"].reused_run_id == first
    assert steps["write"].reused_step_id == originals["write"].id
    # A reused step shows the output and logs of the step it reused.
    assert steps["read"].outputs == originals["read"].outputs
    assert read_whole_log(second, steps["read"].id, "stdout") == "same from write\n"
    assert "Reused step" in read_whole_log(second, steps["read"].id, "system")


def test_it_runs_again_when_an_input_changes(celery_worker):
    first = submit(PIPELINES / "two_steps.yml", greeting="one")
    wait_for_status(first, TERMINAL)
    second = submit(PIPELINES / "two_steps.yml", greeting="two")
    wait_for_status(second, TERMINAL)

    assert not any(s.is_reused for s in steps_by_node(second).values())
    assert read_whole_log(second, steps_by_node(second)["read"].id, "stdout") == "two from write\n"


def test_it_runs_a_fan_out_of_twenty_steps(celery_worker):
    run_id = submit(EXAMPLES / "fan-out" / "pipeline.yml")

    assert wait_for_status(run_id, TERMINAL, timeout=90) == RunStatus.COMPLETED
    steps = steps_by_node(run_id)
    assert len(steps) >= 22
    assert len(get_backend("local").get_graph(run_id).edges) >= 40
