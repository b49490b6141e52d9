"""Remote inputs as a step meets them (backends/local/staging.py): fetched while it is Preparing, from a real HTTP
server on 127.0.0.1, into the engine's cache; its system log tells the download; a refusal fails it before it runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from backends.base import RunStatus
from backends.local import executor, stepexec
from backends.local.engine import submit_spec
from backends.local.models import LocalStep
from backends.local.spec import load_pipeline
from runs.sync import sync_run
from tests.dataserver import DataServer
from tests.integration.helpers import PIPELINES

pytestmark = pytest.mark.django_db
CONTENT = b"date,station,temperature_c\n2026-01-01,ws-01,5.4\n2026-01-01,ws-02,0.9\n"
SETTING = "the local engine's entry in the backends file (RUNBOARD_BACKENDS)"


@pytest.fixture
def server(tmp_path: Path):
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "readings.csv").write_bytes(CONTENT)
    with DataServer(folder) as server:
        yield server


def run_step(node: str, **parameters: str) -> LocalStep:
    """Submit http_input.yml with ``parameters`` and run its step ``node`` here, to its end."""
    run = submit_spec(load_pipeline(PIPELINES / "http_input.yml"), parameters=parameters)
    step = run.steps.get(node_id=node)
    LocalStep.objects.filter(pk=step.pk).update(status=RunStatus.QUEUED)
    stepexec.execute_step(step.pk)
    return LocalStep.objects.get(pk=step.pk)


def log(step: LocalStep, name: str) -> str:
    return executor.log_path(step, name).read_text()


def test_a_step_reads_an_http_input_from_its_copy_in_the_engines_cache(engine_dir, server):
    url = server.url("readings.csv")

    step = run_step("read_file", data=url)

    cached = engine_dir / "cache" / "data" / hashlib.sha256(CONTENT).hexdigest() / "readings.csv"
    assert step.status == RunStatus.COMPLETED, step.error
    assert log(step, "stdout") == CONTENT.decode()
    assert step.inputs == {"data": str(cached)}
    assert step.command == f"cat {cached}"


def test_the_system_log_tells_the_download_before_the_step_starts(engine_dir, server):
    url = server.url("readings.csv")

    system = log(run_step("read_file", data=url), "system")

    lines = [line.partition(" ")[2] for line in system.splitlines()]  # without their times
    assert lines[:2] == [f"Input 'data' is {url}", f"Downloading {url} ({len(CONTENT)} B) into the cache"]
    downloaded = next(
        i for i, line in enumerate(lines) if line.startswith(f"Downloaded {len(CONTENT)} B in ")
    )
    started = next(i for i, line in enumerate(lines) if line.startswith("Started on"))
    assert downloaded < started


def test_a_slow_download_writes_its_progress_to_the_system_log(engine_dir, server):
    server.slow_seconds = 0.15

    system = log(run_step("read_file", data=server.url("slow/readings.csv")), "system")

    progress = [line for line in system.splitlines() if f" B of {len(CONTENT)} B (" in line]
    assert len(progress) >= 2
    assert all(line.endswith("B/s") and " %), " in line for line in progress)


def test_a_uri_folder_url_gives_the_step_a_folder_holding_the_one_file(engine_dir, server):
    step = run_step("list_folder", folder=server.url("readings.csv"))

    assert step.status == RunStatus.COMPLETED, step.error
    assert log(step, "stdout") == "readings.csv\n" + CONTENT.decode()
    assert step.inputs["folder"] == str(engine_dir / "cache" / "data" / hashlib.sha256(CONTENT).hexdigest())


def test_a_second_run_uses_the_cached_copy_and_reuses_the_step(engine_dir, server):
    url = server.url("readings.csv")

    first = run_step("read_file", data=url)
    second = run_step("read_file", data=url)

    assert server.count("GET", "readings.csv") == 1
    assert second.status == RunStatus.COMPLETED and second.reused_step_id == first.pk
    assert "Using the cached copy of " in log(second, "system")


def test_a_file_over_the_download_limit_fails_the_step_before_it_runs(engine_dir, server, configure_backends):
    configure_backends({"local": {"engine": "local", "download_limit": 10}})
    url = server.url("readings.csv")

    step = run_step("read_file", data=url)

    assert step.status == RunStatus.FAILED and step.started_at is None
    assert step.error == (
        f"The step could not start: input 'data': {url} is {len(CONTENT)} B, more than the download_limit of "
        f"10 B (10 bytes); raise download_limit in {SETTING} to allow it"
    )
    assert not executor.log_path(step, "stdout").exists()


def test_a_missing_file_fails_the_step_naming_the_url_and_the_status(engine_dir, server):
    url = server.url("gone.csv")

    step = run_step("read_file", data=url)

    assert step.status == RunStatus.FAILED
    assert (
        step.error
        == f"The step could not start: input 'data': downloading {url} failed: HTTP 404 File not found"
    )
    assert step.error in log(step, "system")


def test_the_run_page_shows_a_downloaded_input_as_its_url_and_its_cached_copy(
    engine_dir, server, viewer_client
):
    url = server.url("readings.csv")
    step = run_step("read_file", data=url)

    page = viewer_client.get(sync_run("local", step.run_id).get_absolute_url()).content.decode()

    assert f"{url} → {step.inputs['data']}" in page
