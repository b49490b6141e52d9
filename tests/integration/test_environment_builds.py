"""A step's environment, prepared as a worker prepares it (backends/local/environments.py): real uv builds into
an engine folder of the test's own, the database's rows as the build's lock, real subprocesses run with the
environment's PATH. No Celery worker: the functions the step's task calls are called here."""

from __future__ import annotations

import os
import subprocess
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from backends.base import RunStatus
from backends.local import environments
from backends.local.conda import plan
from backends.local.config import EngineConfig, parse
from backends.local.environment_models import LocalEnvironment, LocalEnvironmentUse
from backends.local.environments import (
    CannotRemove,
    EnvironmentUnavailable,
    StepStopped,
    prepare,
    prepare_step,
)
from backends.local.envspec import EnvironmentSpec
from backends.local.models import LocalStep
from backends.local.spec import StepSpec
from tests.factories import preparing_step, requirements_environment

pytestmark = pytest.mark.django_db
S = RunStatus
E = LocalEnvironment.Status


@pytest.fixture(autouse=True)
def _own_engine_dir(own_engine_dir) -> Path:
    return own_engine_dir


def system_log(step: LocalStep) -> str:
    path = environments.executor.log_path(step, "system")
    return path.read_text() if path.exists() else ""


def run_in(job: StepSpec, code: str) -> subprocess.CompletedProcess:
    """``python -c code`` as the step's command would run it: bash, with the job's variables over the worker's."""
    env = {**os.environ, **job.environment_variables}
    return subprocess.run(["/bin/bash", "-c", f"python -c '{code}'"], env=env, capture_output=True, text=True)


def test_a_step_builds_its_environment_and_runs_with_it_first_on_path(tmp_path):
    step, job = preparing_step(tmp_path / "p", requirements_environment(tmp_path / "p", "tabulate==0.9.0\n"))

    prepared = prepare(step, job, build=True)

    row = LocalEnvironment.objects.get()
    assert row.status == E.READY and row.size_bytes > 1_000_000 and row.requirements == "pip\ntabulate==0.9.0"
    assert prepared.environment_variables["VIRTUAL_ENV"] == str(environments.folder(row.key))
    result = run_in(prepared, "import sys, tabulate; print(sys.prefix)")
    assert result.stdout.strip() == str(environments.folder(row.key)), result.stderr
    log = system_log(step)
    assert (
        f"Building environment {row.key}" in log and "+ tabulate==0.9.0" in log and "Built environment" in log
    )
    assert "+ tabulate==0.9.0" in environments.build_log(row.key).read_text()
    assert list(LocalEnvironmentUse.objects.values_list("step_id", flat=True)) == [step.pk]


def test_a_second_step_uses_the_built_environment_without_building_it_again(tmp_path):
    env = requirements_environment(tmp_path / "p", "tabulate==0.9.0\n")
    first, job = preparing_step(tmp_path / "p", env)
    prepare(first, job, build=True)
    row = LocalEnvironment.objects.get()
    log_before = environments.build_log(row.key).read_text()

    second, job = preparing_step(tmp_path / "p", env)
    prepared = prepare(second, job, build=True)

    assert prepared.environment_variables["VIRTUAL_ENV"] == str(environments.folder(row.key))
    assert f"Using environment {row.key}" in system_log(second)
    assert "Building" not in system_log(second)
    assert environments.build_log(row.key).read_text() == log_before
    assert LocalEnvironment.objects.get().attempt == 1 and LocalEnvironmentUse.objects.count() == 2


def test_a_changed_definition_builds_a_new_environment(tmp_path):
    step, job = preparing_step(tmp_path / "a", requirements_environment(tmp_path / "a", "tabulate==0.9.0\n"))
    prepare(step, job, build=True)

    step, job = preparing_step(tmp_path / "b", requirements_environment(tmp_path / "b", "tabulate==0.8.10\n"))
    prepared = prepare(step, job, build=True)

    assert LocalEnvironment.objects.filter(status=E.READY).count() == 2
    assert run_in(prepared, "import tabulate; print(tabulate.__version__)").stdout.strip() == "0.8.10"


def test_a_conda_only_package_fails_the_step_naming_it_before_anything_is_built(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "conda.yml").write_text("dependencies:\n  - python\n  - cudatoolkit=11.8\n  - pip\n")
    step, job = preparing_step(tmp_path / "p", "    environment: {image: python, conda_file: ./conda.yml}\n")

    with pytest.raises(EnvironmentUnavailable) as refused:
        prepare(step, job, build=True)

    assert "conda package 'cudatoolkit=11.8' has no pip equivalent" in str(refused.value)
    assert not LocalEnvironment.objects.exists() and not environments.root().exists()


def test_a_package_that_fails_to_install_fails_the_step_and_keeps_the_build_log(tmp_path):
    env = requirements_environment(tmp_path / "p", "runboard-no-such-package-4711==1.0\n")
    step, job = preparing_step(tmp_path / "p", env)

    with pytest.raises(EnvironmentUnavailable) as failed:
        prepare(step, job, build=True)

    row = LocalEnvironment.objects.get()
    assert row.status == E.FAILED and "runboard-no-such-package-4711" in row.error
    assert "runboard-no-such-package-4711 was not found" in str(failed.value)
    assert "Failed: " in environments.build_log(row.key).read_text()
    assert not environments.folder(row.key).exists()
    assert list((environments.root() / ".building").iterdir()) == []


def test_with_building_off_the_step_runs_on_the_workers_python_with_a_notice(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNBOARD_BUILD_ENVIRONMENTS", "0")
    assert parse({}).build_environments is False
    step, job = preparing_step(tmp_path / "p", requirements_environment(tmp_path / "p", "tabulate==0.9.0\n"))

    prepared = prepare(step, job, build=parse({}).build_environments)

    assert prepared == job
    assert "Environment building is off (RUNBOARD_BUILD_ENVIRONMENTS=0)" in system_log(step)
    assert not LocalEnvironment.objects.exists()


def test_a_registered_environment_without_a_mapping_runs_on_the_workers_python_with_a_notice(tmp_path):
    step, job = preparing_step(tmp_path / "p", "    environment: azureml:AzureML-sklearn-1.5@latest\n")

    assert prepare(step, job, build=True) == job
    log = system_log(step)
    assert "Environment 'azureml:AzureML-sklearn-1.5@latest' is registered in Azure ML" in log
    assert "the step runs on the worker's own Python" in log
    assert not LocalEnvironment.objects.exists()


def test_a_docker_image_runs_on_the_workers_python_with_a_notice(tmp_path):
    step, job = preparing_step(tmp_path / "p", "    environment: {image: 'python:3.11-slim'}\n")

    assert prepare(step, job, build=True) == job
    assert "Environment 'python:3.11-slim' is a Docker image" in system_log(step)


def test_a_registered_environment_the_settings_map_is_built_like_an_inline_one(tmp_path):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "sklearn.yml").write_text("dependencies:\n  - pip:\n    - tabulate==0.9.0\n")
    config = EngineConfig(environments={"AzureML-sklearn-1.5": "envs/sklearn.yml"}, base_dir=str(tmp_path))
    step, job = preparing_step(
        tmp_path / "p", "    environment: azureml:AzureML-sklearn-1.5@latest\n", config
    )

    prepared = prepare(step, job, build=True)

    assert run_in(prepared, "import tabulate").returncode == 0
    assert "'azureml:AzureML-sklearn-1.5@latest' (mapped to envs/sklearn.yml" in system_log(step)
    assert LocalEnvironment.objects.get().name == "azureml:AzureML-sklearn-1.5@latest"


def test_a_build_whose_worker_stopped_answering_is_taken_over(tmp_path):
    step, job = preparing_step(tmp_path / "p", requirements_environment(tmp_path / "p", "tabulate==0.9.0\n"))
    key = plan(EnvironmentSpec.from_dict(job.environment_definition)).key
    LocalEnvironment.objects.create(
        key=key, kind="pip", builder="a worker that died", heartbeat_at=timezone.now() - timedelta(minutes=2)
    )

    prepare(step, job, build=True)

    row = LocalEnvironment.objects.get()
    assert (row.status, row.attempt) == (E.READY, 2)
    assert "Taking over the build of environment" in system_log(step) and "a worker that died" in system_log(
        step
    )


def test_a_step_canceled_while_preparing_ends_canceled_without_building(tmp_path):
    step, job = preparing_step(tmp_path / "p", requirements_environment(tmp_path / "p", "tabulate==0.9.0\n"))
    LocalStep.objects.filter(pk=step.pk).update(status=S.CANCEL_REQUESTED)

    with pytest.raises(StepStopped):
        prepare_step(step, job)

    assert LocalStep.objects.get(pk=step.pk).status == S.CANCELED
    assert not LocalEnvironment.objects.exists()


def test_removing_an_environment_deletes_its_folder_log_and_row(tmp_path):
    step, job = preparing_step(tmp_path / "p", requirements_environment(tmp_path / "p", "tabulate==0.9.0\n"))
    prepare(step, job, build=True)
    key = LocalEnvironment.objects.get().key

    with pytest.raises(CannotRemove) as refused:
        environments.remove(key)  # the step that used it is still Preparing: it is in use
    assert f"in use by step step of run {step.run_id}" in str(refused.value)
    assert LocalEnvironment.objects.get().status == E.READY

    LocalStep.objects.filter(pk=step.pk).update(status=S.COMPLETED)
    assert environments.remove(key).startswith(f"Removed environment {key} (")

    assert not LocalEnvironment.objects.exists() and not LocalEnvironmentUse.objects.exists()
    assert not environments.folder(key).exists() and not environments.build_log(key).exists()


@pytest.mark.django_db(transaction=True)
def test_two_steps_that_need_the_same_environment_at_once_build_it_once(tmp_path):
    env = requirements_environment(tmp_path / "p", "tabulate==0.9.0\n")
    steps = [preparing_step(tmp_path / "p", env) for _ in range(2)]
    results: list[object] = [None, None]

    def prepare_in_thread(index: int) -> None:
        step, job = steps[index]
        try:
            results[index] = prepare(step, job, build=True)
        except Exception as exc:  # reported by the assertion below
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=prepare_in_thread, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert all(isinstance(r, StepSpec) for r in results), results
    row = LocalEnvironment.objects.get()
    assert (row.status, row.attempt) == (E.READY, 1)
    logs = [system_log(step) for step, _ in steps]
    assert sum("Building environment" in log for log in logs) == 1
    assert sum("Using environment" in log for log in logs) == 1
    assert {r.environment_variables["VIRTUAL_ENV"] for r in results} == {str(environments.folder(row.key))}
