"""An Azure ML workspace beside the local engine, through a real worker and beat: the workspace is replayed from
recorded traffic (the real SDK parses it), actions go through the action path, and a failing workspace shows as
failing while the local engine's pages keep working."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from ruamel.yaml import YAML

from backends.azureml import compose, demo
from backends.base import RunStatus
from dashboard.models import Action, BackendState
from runs.models import PipelineRun, PublishedPipeline
from schedules.models import Schedule, ScheduleFire
from tests.azureml.conftest import azure_options
from tests.integration.helpers import PIPELINES, submit, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stack(private_stack, tmp_path, settings):
    """local, azure-demo (the demo workspace, its requests written to a log) and azure-expired (every request
    refused: an expired token), all synced by beat."""
    expired = compose.Composer()
    for method, url in (("GET", expired.arm("", "api-version=2024-10-01-preview")),):
        expired.error(
            method,
            url,
            401,
            "ExpiredAuthenticationToken",
            "The access token expiry UTC time is earlier than current UTC time.",
        )
    requests = tmp_path / "requests.jsonl"
    workspace = demo.workspace()
    # The running job stays running here (the demo's completes after a few reads), so that it can be cancelled.
    family = [
        e
        for e in workspace.entries
        if (e["RequestBody"] or {}).get("filter") == f"RootRunId eq {demo.RUNNING_JOB}"
    ]
    workspace.entries.remove(family[-1])
    backends = {
        "local": {"engine": "local"},
        "azure-demo": azure_options(workspace.dump(tmp_path / "demo.json"), recording_log=str(requests)),
        "azure-expired": azure_options(expired.dump(tmp_path / "expired.json")),
    }
    path = tmp_path / "backends.yml"
    with path.open("w") as fh:
        YAML().dump(backends, fh)
    settings.RUNBOARD_BACKENDS_FILE = str(path)
    from backends import registry

    registry.reload()
    private_stack({"RUNBOARD_BACKENDS": str(path)})
    yield requests
    registry.reload()


def sent(requests) -> list[dict]:
    return [json.loads(line) for line in requests.read_text().splitlines()] if requests.exists() else []


def action_done(pk: int) -> Action:
    return wait_for(
        lambda: Action.objects.filter(pk=pk, status__in=Action.FINISHED).first(),
        timeout=30,
        what=f"action {pk}",
    )


def test_beat_fills_the_mirror_from_a_workspace_beside_the_local_engine_and_actions_reach_it(
    stack, viewer_client, operator_client, manager_client
):
    local_run = submit(PIPELINES / "two_steps.yml")
    wait_for(
        lambda: (
            PipelineRun.objects.filter(backend="azure-demo").count() == 5
            and PipelineRun.objects.filter(backend="local", external_id=local_run).exists()
            and Schedule.objects.filter(backend="azure-demo").count() == 4
        ),
        timeout=60,
        what="beat's syncs to mirror both backends",
    )
    assert PublishedPipeline.objects.filter(backend="azure-demo").count() == 2
    fire = wait_for(
        lambda: ScheduleFire.objects.filter(schedule__external_id=demo.SCHEDULE).first(), what="a fire"
    )
    assert fire.run.external_id == demo.SCHEDULED_JOB  # the run the schedule started is its history
    v1_fire = wait_for(
        lambda: ScheduleFire.objects.filter(schedule__name="daily-scoring").first(), what="a v1 fire"
    )
    assert v1_fire.run.external_id == demo.V1_RUN
    assert (
        v1_fire.run.published_pipeline.name == "nightly-scoring"
    )  # a published pipeline's page lists its runs
    expired = wait_for(
        lambda: BackendState.objects.filter(name="azure-expired", healthy=False).first(), what="a failure"
    )
    assert "ExpiredAuthenticationToken" in expired.last_error

    # A cancel, a schedule disabled, a v1 schedule disabled, a published pipeline refused: each as the service sees it.
    running = PipelineRun.objects.get(backend="azure-demo", external_id=demo.RUNNING_JOB)
    assert running.status == RunStatus.RUNNING
    operator_client.post(reverse("runs:cancel", args=[running.pk]), {"reason": "wrong data"})
    cancel = action_done(Action.objects.get(kind=Action.Kind.CANCEL_RUN).pk)
    assert cancel.status == Action.Status.SUCCEEDED and "CancelRequested" in cancel.result, cancel.error
    cancels = [r for r in sent(stack) if r["method"] == "POST" and r["url"].split("?")[0].endswith("/cancel")]
    assert [r["url"].split("?")[0].rsplit("/", 2)[-2] for r in cancels] == [demo.RUNNING_JOB]
    weekly = Schedule.objects.get(backend="azure-demo", external_id=demo.SCHEDULE)
    manager_client.post(reverse("schedules:set_enabled", args=[weekly.pk]), {"enabled": "0"})
    daily = Schedule.objects.get(backend="azure-demo", name="daily-scoring")
    manager_client.post(reverse("schedules:set_enabled", args=[daily.pk]), {"enabled": "0"})
    published = PublishedPipeline.objects.get(backend="azure-demo", name="nightly-scoring")
    manager_client.post(reverse("runs:published_set_enabled", args=[published.pk]), {"enabled": "0"})
    for action in Action.objects.exclude(kind=Action.Kind.CANCEL_RUN):
        action_done(action.pk)

    puts = [r for r in sent(stack) if r["method"] == "PUT"]
    assert any(
        r["url"].split("?")[0].endswith(f"/schedules/{demo.SCHEDULE}")
        and r["body"]["properties"]["isEnabled"] is False
        for r in puts
    )
    assert any(
        r["url"].endswith(f"/Schedules/{daily.external_id.removeprefix('v1:')}")
        and r["body"]["EntityStatus"] == "Disabled"
        for r in puts
    )
    assert not any("/Pipelines/" in r["url"] for r in puts)
    refused = Action.objects.get(kind=Action.Kind.DISABLE_PUBLISHED)
    assert refused.status == Action.Status.FAILED and "daily-scoring" in refused.error
    weekly.refresh_from_db()
    assert not weekly.enabled

    # The failing workspace is on the backends page and in the header; the local engine's pages keep working.
    page = viewer_client.get(reverse("backend_list")).content.decode()
    assert "ExpiredAuthenticationToken" in page
    listing = viewer_client.get(reverse("runs:list"), {"backend": "local"})
    assert listing.status_code == 200 and "backend azure-expired failing" in listing.content.decode()
    assert (
        viewer_client.get(PipelineRun.objects.get(external_id=local_run).get_absolute_url()).status_code
        == 200
    )
