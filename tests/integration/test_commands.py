"""The command line, run as a user runs it: `manage.py validate` and `manage.py submit`, real processes."""

from __future__ import annotations

import pytest

from runs.models import PipelineRun
from tests.conftest import ROOT, _database_url
from tests.integration.helpers import EXAMPLES, PIPELINES, manage

BAD = ROOT / "tests" / "unit" / "pipelines"


def test_validate_prints_the_steps_and_edges_of_a_good_file():
    result = manage("validate", str(EXAMPLES / "train-model" / "pipeline.yml"))

    assert result.returncode == 0, result.stderr
    assert "4 steps, 4 edges" in result.stdout
    assert "prep.prepared -> train.prepared" in result.stdout


def test_validate_names_the_file_line_and_field_of_a_bad_file_and_exits_non_zero():
    result = manage("validate", str(BAD / "bad_sweep.yml"))

    assert result.returncode == 1
    assert "bad_sweep.yml:" in result.stderr and "sweep" in result.stderr and "not supported" in result.stderr


def test_validate_passes_on_every_pipeline_in_the_examples_given_the_mappings_they_need():
    pipelines = [p for p in sorted(EXAMPLES.rglob("*.yml")) if p.read_text().count("\ntype: pipeline\n")]
    backends = EXAMPLES / "remote-data" / "backends.yml"  # the datastore and data asset datastore.yml reads

    result = manage("validate", *map(str, pipelines), env={"RUNBOARD_BACKENDS": str(backends)})

    assert result.returncode == 0, result.stderr
    assert len(pipelines) >= 6 and all(f"{path}: " in result.stdout for path in pipelines)
    assert (
        "remote-data/datastore.yml: Profile station readings from a datastore: 1 step, 0 edges"
        in result.stdout
    )


def test_submit_refuses_an_unmapped_datastore_naming_the_file_line_field_and_the_setting_to_add():
    result = manage("submit", str(EXAMPLES / "remote-data" / "datastore.yml"), env={"RUNBOARD_BACKENDS": ""})

    assert result.returncode == 1
    assert (
        f"{EXAMPLES}/remote-data/datastore.yml:15: inputs.readings.path: "
        "'azureml://datastores/workspaceblobstore/paths/weather/readings': datastore 'workspaceblobstore' is not "
        "mapped to a local folder or URL; add `datastores: {workspaceblobstore: /path/or/URL}` to the local "
        "engine's entry in the backends file (RUNBOARD_BACKENDS)"
    ) in result.stderr


@pytest.fixture
def cli_env(celery_worker, redis_url, engine_dir):
    return {
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "RUNBOARD_LOCAL_ENGINE_DIR": str(engine_dir),
    }


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_submit_wait_prints_the_run_its_url_and_its_progress_and_exits_zero(cli_env):
    result = manage(
        "submit", str(EXAMPLES / "train-model" / "pipeline.yml"), "--set", "epochs=40", "--wait", env=cli_env
    )

    assert result.returncode == 0, result.stderr
    run_id, url, *progress = result.stdout.splitlines()
    run = PipelineRun.objects.get(external_id=run_id)
    assert url.endswith(f"/runs/{run.pk}/")
    assert progress[-1].endswith("run Completed")
    assert any("step train Completed" in line for line in progress)
    assert run.status == "Completed" and run.parameters["epochs"] == 40


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_submit_wait_exits_non_zero_when_the_run_fails(cli_env):
    result = manage("submit", str(EXAMPLES / "flaky-branch" / "pipeline.yml"), "--wait", env=cli_env)

    assert result.returncode == 1
    assert "ended Failed" in result.stderr
    assert "step check_records Failed" in result.stdout


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_submit_refuses_an_unknown_parameter_naming_it(cli_env):
    result = manage("submit", str(PIPELINES / "two_steps.yml"), "--set", "colour=red", env=cli_env)

    assert result.returncode == 1
    assert "colour" in result.stderr
    assert not PipelineRun.objects.exists()
