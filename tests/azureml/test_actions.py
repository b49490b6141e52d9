"""Actions on Azure ML through the action path: cancel, resubmit, submit a YAML file, with the requests they send."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from backends.azureml import compose, demo
from backends.base import RunStatus
from dashboard.actions import action_perform
from dashboard.models import Action
from runs.actions import run_cancel, run_resubmit
from runs.models import PipelineRun
from runs.sync import sync_backend
from tests import hostile
from tests.azureml.conftest import AZURE, sent

pytestmark = pytest.mark.django_db


def jobs_created(workspace: compose.Composer) -> None:
    """What sending a job asks first (its compute), and the service's answer to the job itself."""
    workspace.compute()
    jobs = compose.recorded_schedule()["properties"]["action"]["jobDefinition"]["jobs"]
    workspace.created_job(demo.pipeline_job("fresh_start_0000", "hello_pipeline_abc", "NotStarted", jobs))


def test_cancelling_a_running_job_asks_the_service_and_leaves_it_cancel_requested(replay):
    backend = replay()

    status = backend.cancel_run(demo.RUNNING_JOB)

    assert status == RunStatus.CANCEL_REQUESTED
    cancels = [p for m, p in sent(backend) if m == "POST" and p.endswith("/cancel")]
    assert cancels == [f"{compose.Composer().path}/jobs/{demo.RUNNING_JOB}/cancel"]


def test_cancelling_a_job_that_ended_sends_nothing_and_says_how_it_ended(replay):
    backend = replay()

    assert backend.cancel_run(demo.RECORDED_JOB) == RunStatus.FAILED
    assert not [p for m, p in sent(backend) if p.endswith("/cancel")]


def test_a_cancel_action_is_carried_out_and_audited(
    replay, operator, redis_url, django_capture_on_commit_callbacks
):
    replay()
    sync_backend(AZURE, now=True)
    run = PipelineRun.objects.get(backend=AZURE, external_id=demo.RUNNING_JOB)

    with django_capture_on_commit_callbacks():
        action = run_cancel(run=run, user=operator, reason="wrong data")
    done = action_perform(action.pk)

    assert done.status == Action.Status.SUCCEEDED and "CancelRequested" in done.result


def test_resubmitting_sends_the_job_again_under_a_new_name(replay, workspace, operator, redis_url):
    jobs_created(workspace)
    backend = replay()
    sync_backend(AZURE, now=True)
    run = PipelineRun.objects.get(backend=AZURE, external_id=demo.SCHEDULED_JOB)

    action = action_perform(run_resubmit(run=run, user=operator, force_rerun=True).pk)

    assert action.status == Action.Status.SUCCEEDED, action.error
    new = PipelineRun.objects.get(pk=action.outcome["run"])
    assert new.external_id == "fresh_start_0000" and new.backend == AZURE
    assert list(new.edges.values_list("source_node", "target_node")) == [("b", "c")]  # drawn at once
    put = next(s for s in backend.workspace.recording.sent if s.method == "PUT")
    assert put.body["properties"]["jobType"] == "Pipeline"
    assert put.body["properties"]["settings"]["force_rerun"] is True
    assert not put.path.endswith(f"/jobs/{demo.SCHEDULED_JOB}")  # a new job, not the old one changed


def test_submit_sends_the_same_cli_v2_file_to_a_workspace(replay, workspace, tmp_path, capsys):
    jobs_created(workspace)
    backend = replay()
    job = tmp_path / "job.yml"
    job.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        'command: python -c "print(${{inputs.n}})"\ninputs:\n  n: 3\n'
        "environment: azureml:AzureML-sklearn-1.5@latest\ncompute: azureml:cpu-cluster\n"
        "experiment_name: cli-test\ndisplay_name: hello\n"
    )

    call_command("submit", str(job), "--backend", AZURE, "--set", "n=5")

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "fresh_start_0000" and out[1].endswith(f"/runs/{PipelineRun.objects.get().pk}/")
    assert out[2].startswith("https://ml.azure.com/runs/fresh_start_0000?wsid=")
    put = next(s for s in backend.workspace.recording.sent if s.method == "PUT")
    assert put.body["properties"]["command"] == 'python -c "print(${{inputs.n}})"'
    assert put.body["properties"]["inputs"]["n"]["value"] == "5"
    assert put.body["properties"]["experimentName"] == "cli-test"


def test_submit_refuses_a_file_past_a_limit_before_the_sdk_reads_it(replay, tmp_path):
    backend = replay()
    path = hostile.billion_laughs(tmp_path)

    with pytest.raises(CommandError) as caught:
        call_command("submit", str(path), "--backend", AZURE)

    assert str(caught.value).startswith(f"{path}:5: yaml: alias *d: exceeds the limit of 50,000 values")
    assert not [m for m, _ in sent(backend) if m == "PUT"]


def test_submit_says_on_one_line_why_the_sdk_rejects_a_file(replay, tmp_path):
    replay()
    job = tmp_path / "job.yml"
    job.write_text(
        "command: echo ${{inputs.n}}\ninputs:\n  n:\n    type: integer\n    value: 3\n"
        "environment: azureml:AzureML-sklearn-1.5@latest\ncompute: azureml:cpu-cluster\n"
    )

    with pytest.raises(CommandError) as caught:
        call_command("submit", str(job), "--backend", AZURE)

    message = str(caught.value)
    assert message.startswith(f"submitting {job}: ") and "CommandJobSchema" in message
    assert "\n" not in message and len(message) < 400


def test_submit_says_on_one_line_why_the_sdk_will_not_send_a_job(replay, tmp_path):
    backend = replay()
    job = tmp_path / "pipeline.yml"
    job.write_text(
        "type: pipeline\njobs:\n  train:\n    type: command\n    command: echo hi\n"
        "    environment: azureml:AzureML-sklearn-1.5@latest\n"
    )

    with pytest.raises(CommandError) as caught:
        call_command("submit", str(job), "--backend", AZURE)

    assert str(caught.value) == f"submitting {job}: jobs.train.compute: Compute not set"
    assert not [m for m, _ in sent(backend) if m == "PUT"]
