"""The command line, run as a user runs it: `manage.py validate` and `manage.py submit`, real processes."""

from __future__ import annotations

import pytest

from runs.models import PipelineRun
from tests.conftest import ROOT, _database_url
from tests.integration.helpers import EXAMPLES, PIPELINES, manage

JOBS = ROOT / "tests" / "integration" / "jobs"

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
    run_id, url, *progress, last = result.stdout.splitlines()
    run = PipelineRun.objects.get(external_id=run_id)
    assert url.endswith(f"/runs/{run.pk}/")
    assert progress[-1].endswith("run Completed")
    assert last == f"run {run_id} Completed: {url}"
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


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_submit_stream_prints_each_steps_log_lines_prefixed_by_step_then_status_and_url(cli_env):
    result = manage("submit", str(PIPELINES / "two_steps.yml"), "--wait", "--stream", env=cli_env)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    run_id, url = lines[:2]
    assert "[write] wrote" in lines
    assert "[read] hello from write" in lines
    assert "[read stderr] read it" in lines
    # The steps' lines in the order the steps ran.
    assert lines.index("[write] wrote") < lines.index("[read] hello from write")
    assert lines[-1] == f"run {run_id} Completed: {url}"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_command_job_file_runs_as_a_run_of_one_step(cli_env):
    result = manage(
        "submit", str(JOBS / "hello_command.yml"), "--set", "count=3", "--wait", "--stream", env=cli_env
    )

    assert result.returncode == 0, result.stderr
    assert "[hello] greeting: hello there" in result.stdout.splitlines()
    assert "[hello] count: 3" in result.stdout.splitlines()
    run = PipelineRun.objects.get(external_id=result.stdout.splitlines()[0])
    assert run.display_name == "Hello command"
    assert [s.node_id for s in run.steps.all()] == ["hello"]
    assert run.status == "Completed" and run.parameters == {"greeting": "hello there", "count": 3}


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_submit_and_validate_refuse_a_required_input_without_a_value_naming_it_and_the_job(cli_env):
    submitted = manage("submit", str(JOBS / "hello_command.yml"), env=cli_env)
    validated = manage("validate", str(JOBS / "hello_command.yml"), env=cli_env)

    expected = "job 'hello' needs a value for input 'count', and pipeline input 'count' has none"
    assert submitted.returncode == 1 and expected in submitted.stderr
    assert validated.returncode == 1 and expected in validated.stderr
    assert "hello_command.yml:" in validated.stderr
    assert not PipelineRun.objects.exists()
    assert manage("validate", str(JOBS / "hello_command.yml"), "--set", "count=2").returncode == 0
