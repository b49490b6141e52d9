"""A workspace that fails is shown failing, never a 500: its mirror stays, marked stale; the others carry on."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from backends.azureml import compose, demo
from backends.base import BackendError, BackendUnavailable, NotFound
from backends.registry import get_backend
from dashboard.actions import action_perform
from dashboard.models import Action, BackendState
from runs.actions import run_cancel
from runs.models import PipelineRun, StepRun
from runs.sync import sync_backend
from tests.azureml.conftest import AZURE, azure_options

pytestmark = pytest.mark.django_db


def answering(status: int, code: str, message: str, **headers: str) -> compose.Composer:
    """A workspace whose every ARM and run-history request is answered with this error."""
    w = compose.Composer()
    for method, url in (
        ("GET", w.arm("", "api-version=2024-10-01-preview")),
        ("POST", w.history("/experiments:query")),
    ):
        w.error(method, url, status, code, message, **headers)
    return w


def mirror_then_fail(replay, failing: compose.Composer) -> None:
    replay()
    assert not sync_backend(AZURE, now=True).error
    assert not sync_backend("local", now=True).error
    replay(failing)
    sync_backend(AZURE, now=True)


EXPIRED = "The access token expiry UTC time '11/25/2026 10:00:00 AM' is earlier than current UTC time."


def test_an_expired_credential_is_shown_on_the_backends_page_and_in_the_header(
    replay, viewer_client, redis_url
):
    mirror_then_fail(replay, answering(401, "ExpiredAuthenticationToken", EXPIRED))

    state = BackendState.objects.get(name=AZURE)
    assert not state.healthy and "ExpiredAuthenticationToken" in state.last_error
    assert "authentication failed" in state.last_error and "az login" in state.last_error
    backends = viewer_client.get(reverse("backend_list")).content.decode()
    assert "ExpiredAuthenticationToken" in backends and "failing" in backends
    runs = viewer_client.get(reverse("runs:list"))
    html = runs.content.decode()
    assert runs.status_code == 200 and f"backend {AZURE} failing" in html
    assert demo.RECORDED_JOB in html and "stale</span>" in html  # its last mirror, marked


def test_no_access_names_the_role_to_give(replay, redis_url):
    message = "The client 'x' does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/jobs/read'."
    mirror_then_fail(replay, answering(403, "AuthorizationFailed", message))

    error = BackendState.objects.get(name=AZURE).last_error
    assert (
        error.startswith("error: ")
        and "access denied: (AuthorizationFailed)" in error
        and "AzureML Data Scientist" in error
    )


def test_throttling_is_transient_and_its_retry_after_is_honoured(replay, redis_url):
    mirror_then_fail(replay, answering(429, "TooManyRequests", "Try again later.", **{"Retry-After": "90"}))

    state = BackendState.objects.get(name=AZURE)
    assert state.last_error.startswith("unavailable: ") and "HTTP 429" in state.last_error
    assert state.next_attempt_at >= timezone.now() + timedelta(seconds=85)


def test_a_server_error_is_transient_and_a_missing_job_is_not_found(replay, workspace):
    workspace.error("GET", workspace.history("/runs/gone_1"), 404, "UserError", "Run gone_1 was not found")
    workspace.error(
        "POST",
        workspace.arm(f"/jobs/{demo.RUNNING_JOB}/cancel", "api-version=2023-04-01-preview"),
        503,
        "ServiceUnavailable",
        "busy",
    )
    workspace.entries = [
        e
        for e in workspace.entries
        if not (e["RequestUri"].endswith("/cancel?api-version=2023-04-01-preview") and e["StatusCode"] == 202)
    ]
    backend = replay()

    with pytest.raises(NotFound, match="Run gone_1 was not found"):
        backend.get_run("gone_1")
    with pytest.raises(BackendUnavailable, match="HTTP 503"):
        backend.cancel_run(demo.RUNNING_JOB)


@pytest.fixture
def az_cli(tmp_path, monkeypatch):
    """An `az` on PATH that hands out a token, as a signed-in Azure CLI does (the CLI itself cannot run here)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "az"
    token = {
        "accessToken": "cli-token",
        "expires_on": int((timezone.now() + timedelta(hours=1)).timestamp()),
        "tokenType": "Bearer",
    }
    script.write_text(f"#!/bin/sh\necho '{json.dumps(token)}'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_an_unreachable_workspace_is_transient_and_the_local_engine_carries_on(
    configure_backends, az_cli, monkeypatch, viewer_client, redis_url
):
    # Every connection goes through a proxy that refuses it: the real transport, and no request leaves the host.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    options = azure_options("", credential="azure_cli", timeout=5)
    del options["recording"]
    configure_backends({"local": {"engine": "local"}, AZURE: options})

    result = sync_backend(AZURE, now=True)

    assert result.error.startswith("unavailable: ") and "cannot reach Azure ML" in result.error
    assert not sync_backend("local", now=True).error
    assert viewer_client.get(reverse("runs:list")).status_code == 200
    assert f"backend {AZURE} failing" in viewer_client.get(reverse("schedules:list")).content.decode()


def test_a_backend_removed_from_the_configuration_keeps_its_pages_readable(
    replay, configure_backends, viewer_client, operator, redis_url
):
    replay()
    sync_backend(AZURE, now=True)
    step = StepRun.objects.get(run__backend=AZURE, node_id="hello_world_inline_commandjob_1")
    configure_backends({"local": {"engine": "local"}})

    run_page = viewer_client.get(reverse("runs:detail", args=[step.run_id]))
    log_page = viewer_client.get(
        reverse("runs:step_log", args=[step.run_id, step.node_id, "user_logs/std_log.txt"])
    )
    download = viewer_client.get(
        reverse("runs:step_log_download", args=[step.run_id, step.node_id, "user_logs/std_log.txt"])
    )

    assert run_page.status_code == 200 and log_page.status_code == 200
    assert f"backend &#x27;{AZURE}&#x27; is not configured any more" in log_page.content.decode()
    assert download.status_code == 502 and "not configured any more" in download.content.decode()
    action = action_perform(run_cancel(run=PipelineRun.objects.get(pk=step.run_id), user=operator).pk)
    assert action.status == Action.Status.FAILED and "not configured any more" in action.error
    with pytest.raises(BackendError):
        get_backend(AZURE).get_run("x")


def test_an_operation_a_backend_cannot_do_is_a_backend_error_and_its_control_is_not_shown(
    replay, viewer_client, redis_url
):
    backend = replay()
    sync_backend(AZURE, now=True)
    run = PipelineRun.objects.get(backend=AZURE, external_id=demo.SCHEDULED_JOB)

    with pytest.raises(BackendError, match="cannot publish pipelines"):
        backend.publish_pipeline(run.external_id, "x", "", "1", False)
    page = viewer_client.get(run.get_absolute_url()).content.decode()
    assert "Publish this pipeline" not in page and "Open in Azure ML Studio" in page
