"""Azure ML CLI v2 files run end to end by the local engine: a real Celery worker, real subprocesses."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from backends.base import RunStatus
from backends.local import executor
from backends.local.models import LocalStep
from backends.registry import get_backend
from runs.file_views import output_url
from runs.sync import sync_run
from tests.integration.helpers import (
    EXAMPLES,
    processes_in_group,
    read_whole_log,
    steps_by_node,
    submit,
    wait_for_status,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TERMINAL = set(RunStatus.TERMINAL)


def test_a_pipeline_with_a_pipeline_component_runs_its_jobs_as_steps_of_the_run(celery_worker):
    run_id = submit(EXAMPLES / "pipeline-component" / "pipeline.yml", epochs=20)

    assert wait_for_status(run_id, TERMINAL, timeout=90) == RunStatus.COMPLETED
    steps = steps_by_node(run_id)
    assert list(steps) == [
        "prep",
        "careful.train",
        "careful.evaluate",
        "quick.train",
        "quick.evaluate",
        "compare",
    ]
    assert all(s.status == RunStatus.COMPLETED for s in steps.values())
    # Each component's evaluate read the model its own train wrote, with the learning rate its node gave.
    assert "--learning_rate 0.05 --epochs 20" in steps["careful.train"].command
    assert "--learning_rate 0.3 --epochs 100" in steps["quick.train"].command
    assert steps["careful.evaluate"].inputs["model"] == steps["careful.train"].outputs["model"]
    metrics = json.loads(Path(steps["quick.evaluate"].outputs["report"], "metrics.json").read_text())
    compared = read_whole_log(run_id, steps["compare"].id, "stdout")
    assert compared.startswith("careful:") and f'"rmse": {metrics["rmse"]}' in compared


def test_a_command_job_runs_in_its_snapshot_with_outputs_logs_and_azure_mls_variables(celery_worker):
    source = EXAMPLES / "command-job" / "src"
    run_id = submit(EXAMPLES / "command-job" / "job.yml", round_to=1)

    assert wait_for_status(run_id, TERMINAL, timeout=60) == RunStatus.COMPLETED
    (step,) = steps_by_node(run_id).values()
    stdout = read_whole_log(run_id, step.id, "stdout")
    assert stdout.startswith(f"run {run_id} in experiment command-job\n")
    assert f"reading {EXAMPLES / 'train-model' / 'data' / 'houses.csv'}" in stdout
    # ./outputs is the job's artifacts output; it was written in a working directory, not in the source folder.
    artifacts = Path(step.outputs["artifacts"])
    assert (artifacts / "report.md").read_text().startswith("# Houses at a glance")
    assert not (source / "outputs").exists()
    assert json.loads(Path(step.outputs["summary"], "columns.json").read_text())["price_k"]["count"] > 0
    local = LocalStep.objects.get(pk=step.id)
    assert len(local.snapshot) == 64
    assert (executor.snapshot_path(local.snapshot) / "describe.py").read_text() == (
        source / "describe.py"
    ).read_text()
    assert artifacts.parent.parent == executor.step_dir(local)


def test_a_jobs_artifacts_and_snapshot_are_listed_read_and_downloaded_through_its_pages(
    celery_worker, viewer_client
):
    source = EXAMPLES / "command-job" / "src"
    run_id = submit(EXAMPLES / "command-job" / "job.yml", round_to=1)
    assert wait_for_status(run_id, TERMINAL, timeout=60) == RunStatus.COMPLETED
    engine = get_backend("local")
    (step,) = steps_by_node(run_id).values()

    artifacts = engine.list_files(run_id, step.id, "outputs/artifacts")
    summary = engine.list_files(run_id, step.id, "outputs/summary")
    snapshot = engine.list_files(run_id, step.id, "snapshot")
    code = engine.read_file(run_id, step.id, "snapshot", "describe.py", 0, 1 << 20)

    assert [(e.path, e.is_dir) for e in artifacts.entries] == [("report.md", False)]
    assert [e.path for e in summary.entries] == ["columns.json"]
    assert [e.path for e in snapshot.entries] == ["describe.py"] and len(step.snapshot) == 64
    assert code.data == (source / "describe.py").read_bytes() and code.size == len(code.data)

    run = sync_run("local", run_id)
    report = viewer_client.get(output_url(run.pk, step.node_id, "artifacts") + "report.md", {"download": "1"})
    folder = viewer_client.get(output_url(run.pk, step.node_id, "artifacts"), {"download": "1"})
    code_zip = viewer_client.get(f"{run.get_absolute_url()}steps/{step.node_id}/snapshot/", {"download": "1"})

    written = Path(step.outputs["artifacts"], "report.md").read_bytes()
    assert b"".join(report.streaming_content) == written and written.startswith(b"# Houses at a glance")
    assert (
        zipfile.ZipFile(io.BytesIO(b"".join(folder.streaming_content))).read("artifacts/report.md") == written
    )
    names = zipfile.ZipFile(io.BytesIO(b"".join(code_zip.streaming_content))).namelist()
    assert names == [f"snapshot-{step.snapshot[:12]}/describe.py"]


def test_a_step_runs_the_code_as_submitted_not_as_edited_afterwards(celery_worker, tmp_path):
    (tmp_path / "src").mkdir()
    script = tmp_path / "src" / "say.py"
    script.write_text("print('as submitted')\n")
    job = tmp_path / "job.yml"
    job.write_text("type: command\ncode: ./src\ncommand: sleep 1 && python say.py\n")
    run_id = submit(job)

    script.write_text("print('edited after submit')\n")

    assert wait_for_status(run_id, TERMINAL, timeout=60) == RunStatus.COMPLETED
    (step,) = steps_by_node(run_id).values()
    assert read_whole_log(run_id, step.id, "stdout") == "as submitted\n"


def test_a_pytorch_style_job_starts_a_process_per_rank_each_with_its_own_log(celery_worker):
    run_id = submit(EXAMPLES / "distributed-pytorch" / "job.yml", upto=10000)

    assert wait_for_status(run_id, TERMINAL, timeout=90) == RunStatus.COMPLETED
    (step,) = steps_by_node(run_id).values()
    assert step.log_names == (
        "stdout",
        "stderr",
        "system",
        *(f"std{s}.{i}" for i in (1, 2, 3) for s in ("out", "err")),
    )
    for rank in range(4):
        log = read_whole_log(run_id, step.id, "stdout" if rank == 0 else f"stdout.{rank}")
        assert log.startswith(f"rank {rank}/4 (node {rank // 2}, local rank {rank % 2}):")
    result = json.loads(Path(step.outputs["result"], "sum.json").read_text())
    assert result["total"] == 10000 * 10001 * 20001 // 6 and len(result["parts"]) == 4


def test_a_distributed_job_fails_when_one_process_fails_and_the_others_are_stopped(celery_worker, tmp_path):
    job = tmp_path / "job.yml"
    job.write_text(
        "type: command\n"
        # Rank 1 fails at once; rank 0 would wait for it for ever.
        "command: 'if [ $RANK = 1 ]; then echo rank 1 gives up >&2; exit 3; fi; sleep 60'\n"
        "distribution: {type: pytorch, process_count_per_instance: 2}\n"
    )
    run_id = submit(job)

    assert wait_for_status(run_id, TERMINAL, timeout=30) == RunStatus.FAILED
    (step,) = steps_by_node(run_id).values()
    assert step.error == "Process 1 of 2: Exit code 3. rank 1 gives up"
    assert step.exit_code == 3
    assert processes_in_group(LocalStep.objects.get(pk=step.id).pid) == []


def test_a_command_job_is_reused_and_resubmitted_as_a_pipelines_step_is(celery_worker):
    engine = get_backend("local")
    first = submit(EXAMPLES / "command-job" / "job.yml", round_to=2)
    assert wait_for_status(first, TERMINAL, timeout=60) == RunStatus.COMPLETED

    again = submit(EXAMPLES / "command-job" / "job.yml", round_to=2)
    rerun = engine.resubmit_run(first, force_rerun=True, submitted_by="tests").id

    assert wait_for_status(again, TERMINAL, timeout=60) == RunStatus.COMPLETED
    assert wait_for_status(rerun, TERMINAL, timeout=60) == RunStatus.COMPLETED
    (reused,) = steps_by_node(again).values()
    (fresh,) = steps_by_node(rerun).values()
    assert reused.is_reused and reused.reused_run_id == first
    assert not fresh.is_reused and read_whole_log(rerun, fresh.id, "stdout").startswith(f"run {rerun} ")
