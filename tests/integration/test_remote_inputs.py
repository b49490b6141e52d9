"""Remote inputs end to end: `manage.py submit --wait` as a user runs it, the session's real Celery worker, and a
real HTTP server on 127.0.0.1 (never the internet) for the data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from backends.base import RunStatus
from backends.registry import get_backend
from runs.models import PipelineRun
from tests.conftest import _database_url
from tests.dataserver import DataServer
from tests.integration.helpers import (
    EXAMPLES,
    PIPELINES,
    manage,
    read_whole_log,
    steps_by_node,
    submit,
    wait_for,
    wait_for_status,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
READINGS = b"date,station,temperature_c\n2026-01-01,ws-01,5.4\n2026-01-01,ws-02,0.9\n"
IRIS = (
    b"sepal_length,sepal_width,petal_length,petal_width,species\n"
    b"5.1,3.5,1.4,0.2,Iris-setosa\n4.9,3.0,1.4,0.2,Iris-setosa\n"
    b"7.0,3.2,4.7,1.4,Iris-versicolor\n6.3,3.3,6.0,2.5,Iris-virginica\n"
)


@pytest.fixture
def cli_env(celery_worker, redis_url, engine_dir) -> dict[str, str]:
    return {
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "RUNBOARD_LOCAL_ENGINE_DIR": str(engine_dir),
    }


@pytest.fixture
def server(tmp_path: Path):
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "readings.csv").write_bytes(READINGS)
    (folder / "iris.csv").write_bytes(IRIS)
    with DataServer(folder) as server:
        yield server


def test_a_job_reading_an_http_input_completes_and_the_run_page_shows_its_url_and_cached_copy(
    cli_env, server, engine_dir, viewer_client
):
    url = server.url("readings.csv")

    result = manage(
        "submit", str(PIPELINES / "http_input.yml"), "--set", f"inputs.data={url}", "--set", f"folder={url}",
        "--wait", env=cli_env,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    run_id = result.stdout.splitlines()[0]
    steps = steps_by_node(run_id)
    assert read_whole_log(run_id, steps["read_file"].id, "stdout") == READINGS.decode()
    assert read_whole_log(run_id, steps["list_folder"].id, "stdout") == "readings.csv\n" + READINGS.decode()
    # Both steps wanted the file at once, in two worker processes: it was downloaded once.
    assert server.count("GET", "readings.csv") == 1
    cached = engine_dir / "cache" / "data" / hashlib.sha256(READINGS).hexdigest() / "readings.csv"
    page = viewer_client.get(PipelineRun.objects.get(external_id=run_id).get_absolute_url()).content.decode()
    assert f"{url} → {cached}</span>" in page
    assert f"{url} → {cached.parent}</span>" in page


def test_the_remote_data_example_runs_on_a_url_given_at_submit(cli_env, server):
    result = manage(
        "submit", str(EXAMPLES / "remote-data" / "pipeline.yml"), "--set", f"iris={server.url('iris.csv')}",
        "--wait", env=cli_env,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    run_id = result.stdout.splitlines()[0]
    profile = read_whole_log(run_id, steps_by_node(run_id)["profile"].id, "stdout")
    assert "4 rows from " in profile and "  5.1,3.5,1.4,0.2,Iris-setosa\n" in profile
    assert "Iris-setosa: 2 rows; mean sepal_length 5.0, sepal_width 3.25" in profile


def test_the_datastore_example_reads_its_mapped_datastore_and_data_asset(cli_env):
    backends = EXAMPLES / "remote-data" / "backends.yml"

    result = manage(
        "submit", str(EXAMPLES / "remote-data" / "datastore.yml"), "--wait",
        env={**cli_env, "RUNBOARD_BACKENDS": str(backends)},
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    run_id = result.stdout.splitlines()[0]
    step = steps_by_node(run_id)["profile"]
    assert step.inputs["readings"] == str(EXAMPLES / "remote-data" / "datastore" / "weather" / "readings")
    assert "Harbor Point (ws-01): 31 rows; mean temperature_c " in read_whole_log(run_id, step.id, "stdout")


def test_a_step_is_preparing_while_its_input_downloads_and_a_cancel_stops_it_at_once(celery_worker, server):
    run_id = submit(
        PIPELINES / "http_input.yml", data=server.url("stall/readings.csv"), folder=server.url("readings.csv")
    )
    step = wait_for(
        lambda: (
            (s := steps_by_node(run_id)["read_file"]).status == RunStatus.PREPARING
            and "Downloading " in read_whole_log(run_id, s.id, "system")
            and s
        ),
        what="the step to be downloading its input",
    )

    get_backend("local").cancel_run(run_id)

    assert wait_for_status(run_id, {RunStatus.CANCELED, RunStatus.FAILED}, timeout=5) == RunStatus.CANCELED
    step = steps_by_node(run_id)["read_file"]
    assert step.status == RunStatus.CANCELED and step.started_at is None
    assert "Canceled while its inputs were downloading." in read_whole_log(run_id, step.id, "system")


def test_a_file_over_the_download_limit_fails_its_step_in_preparing_naming_the_url_and_the_limit(
    private_stack, server, engine_dir, tmp_path
):
    backends = tmp_path / "backends.yml"
    backends.write_text("local:\n  engine: local\n  download_limit: 100\n")
    env = {"RUNBOARD_BACKENDS": str(backends)}  # the worker reads the limit: it is the one downloading
    redis_url = private_stack(env)
    big = server.folder / "big.csv"
    big.write_bytes(READINGS * 4)

    result = manage(
        "submit", str(PIPELINES / "http_input.yml"), "--set", f"data={server.url('big.csv')}",
        "--set", f"folder={server.url('readings.csv')}", "--wait",
        env={**env, "REDIS_URL": redis_url, "DATABASE_URL": _database_url(), "RUNBOARD_LOCAL_ENGINE_DIR": str(engine_dir)},
    )  # fmt: skip

    assert result.returncode == 1 and "ended Failed" in result.stderr
    run_id = result.stdout.splitlines()[0]
    step = steps_by_node(run_id)["read_file"]
    assert step.status == RunStatus.FAILED and step.started_at is None
    assert step.error == (
        f"The step could not start: input 'data': {server.url('big.csv')} is 276 B, more than the download_limit "
        "of 100 B (100 bytes); raise download_limit in the local engine's entry in the backends file "
        "(RUNBOARD_BACKENDS) to allow it"
    )
