"""Environments end to end: a real Celery worker builds a step's environment with uv and runs the step in it."""

from __future__ import annotations

import pytest

from backends.base import RunStatus
from backends.local.environment_models import LocalEnvironment
from tests.conftest import _database_url
from tests.integration.helpers import (
    EXAMPLES,
    PIPELINES,
    manage,
    read_whole_log,
    steps_by_node,
    submit,
    wait_for_status,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TERMINAL = set(RunStatus.TERMINAL)
EXAMPLE = EXAMPLES / "environments" / "pipeline.yml"


def test_a_job_whose_environment_installs_a_package_imports_it(celery_worker, engine_dir):
    run_id = submit(EXAMPLE)

    assert wait_for_status(run_id, TERMINAL, timeout=180) == RunStatus.COMPLETED
    steps = steps_by_node(run_id)
    rank = read_whole_log(run_id, steps["rank"].id, "stdout")
    assert f"from {engine_dir / 'environments'}" in rank  # its sys.prefix: the built environment
    assert "rank | model" in rank and "gradient-boosting" in rank  # tabulate's table
    report = read_whole_log(run_id, steps["report"].id, "stdout")
    assert "Best by accuracy: gradient-boosting (0.917)" in report and "Five models ranked." in report
    system = read_whole_log(run_id, steps["rank"].id, "system")
    assert "Conda channels (conda-forge) are not used" in system
    assert "Building environment" in system or "Using environment" in system
    built = LocalEnvironment.objects.filter(status=LocalEnvironment.Status.READY)
    assert built.filter(name="rank-models", kind="conda").exists()
    assert built.filter(source__endswith="report/requirements.txt", kind="pip").exists()


def test_a_job_with_a_conda_only_package_fails_in_preparing_naming_it(celery_worker):
    run_id = submit(PIPELINES / "conda_only.yml")

    assert wait_for_status(run_id, TERMINAL, timeout=60) == RunStatus.FAILED
    step = steps_by_node(run_id)["train"]
    assert step.status == RunStatus.FAILED and step.started_at is None  # it never left Preparing
    assert "conda package 'cudatoolkit=11.8' has no pip equivalent" in step.error
    assert "cudatoolkit=11.8" in read_whole_log(run_id, step.id, "system")
    assert read_whole_log(run_id, step.id, "stdout") == ""


def test_submit_wait_runs_the_environments_example_to_completion(celery_worker, redis_url, engine_dir):
    env = {
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "RUNBOARD_LOCAL_ENGINE_DIR": str(engine_dir),
    }

    result = manage("submit", str(EXAMPLE), "--set", "metric=f1", "--wait", env=env, timeout=240)

    assert result.returncode == 0, result.stderr
    *_, status_line, last = result.stdout.splitlines()
    assert status_line.endswith("run Completed") and last.startswith("run ") and " Completed: http" in last


def test_submit_wait_names_the_conda_only_package_that_failed_the_step(celery_worker, redis_url, engine_dir):
    env = {
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "RUNBOARD_LOCAL_ENGINE_DIR": str(engine_dir),
    }

    result = manage("submit", str(PIPELINES / "conda_only.yml"), "--wait", env=env)

    assert result.returncode == 1
    assert (
        "step train Failed: The step could not start: its environment cannot be built: conda package "
        "'cudatoolkit=11.8' has no pip equivalent" in result.stdout
    )


def test_a_step_whose_environment_changed_runs_again_instead_of_being_reused(celery_worker, tmp_path):
    (tmp_path / "requirements.txt").write_text("tabulate==0.9.0\n")
    pipeline = tmp_path / "pipeline.yml"
    pipeline.write_text(
        "type: pipeline\njobs:\n  version:\n"
        "    command: python -c 'import tabulate; print(tabulate.__version__)'\n"
        "    environment: {image: python:3.11, conda_file: ./requirements.txt}\n"
    )
    first = submit(pipeline)
    assert wait_for_status(first, TERMINAL, timeout=120) == RunStatus.COMPLETED
    same = submit(pipeline)
    assert wait_for_status(same, TERMINAL, timeout=60) == RunStatus.COMPLETED
    assert steps_by_node(same)["version"].is_reused

    (tmp_path / "requirements.txt").write_text("tabulate==0.8.10\n")
    changed = submit(pipeline)

    assert wait_for_status(changed, TERMINAL, timeout=120) == RunStatus.COMPLETED
    step = steps_by_node(changed)["version"]
    assert not step.is_reused
    assert read_whole_log(changed, step.id, "stdout") == "0.8.10\n"
