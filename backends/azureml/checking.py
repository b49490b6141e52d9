"""``manage.py backends check`` for a workspace: sign in, find it, count what can be seen, or say what failed."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from django.utils import timezone

from backends.azureml.client import translate
from backends.azureml.replay import UnansweredRequest
from backends.base import CheckResult

if TYPE_CHECKING:
    from backends.azureml.engine import AzureMLBackend

SIGN_IN = (
    "run `az login` on this host (credential: azure_cli or default), or set AZURE_CLIENT_ID, AZURE_TENANT_ID and "
    "AZURE_CLIENT_SECRET for a service principal (credential: environment), or give the host a managed identity "
    "(credential: managed_identity)"
)


def check_workspace(backend: AzureMLBackend) -> CheckResult:
    s = backend.settings
    facts: list[tuple[str, str]] = [
        ("workspace", s.workspace_name),
        ("resource group", s.resource_group),
        ("subscription", s.subscription_id),
        ("credential", "replayed from " + s.recording if s.recording else s.credential),
    ]
    step = "signing in"
    try:
        workspace = backend.workspace.ml_client.workspaces.get(s.workspace_name)
        facts.append(("region", str(workspace.location)))
        step = "reading the workspace's services"
        services = backend.workspace.discovery()
        facts.append(("run history", services.get("api") or services.get("history", "")))
        step = "listing experiments"
        scopes = backend._scopes_to_list()
        facts.append(("experiments", str(len(scopes))))
        step = "counting jobs"
        since = timezone.now() - timedelta(days=7)
        jobs = sum(1 for scope in scopes for _ in backend.history.root_runs(scope, created_after=since))
        facts.append(("jobs in the last 7 days", str(jobs)))
        step = "listing schedules"
        schedules = backend.list_schedules()
        enabled = sum(1 for x in schedules if x.enabled)
        facts.append(("schedules", f"{len(schedules)} ({enabled} enabled)"))
        facts.append(("published pipelines", str(len(backend.list_published_pipelines()))))
    except Exception as exc:  # every failure is reported, with what to do about it
        problem, advice = _explain(exc, backend, step)
        return CheckResult(ok=False, facts=tuple(facts), problem=problem, advice=advice)
    return CheckResult(ok=True, facts=tuple(facts))


def _explain(exc: Exception, backend: AzureMLBackend, step: str) -> tuple[str, str]:
    s = backend.settings
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, ClientAuthenticationError) and cause.response is None:
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        return f"no credential could sign in ({first})", SIGN_IN
    if isinstance(cause, HttpResponseError) and cause.status_code == 401:
        return f"the credential was refused: {translate(cause, step)}", SIGN_IN
    if isinstance(cause, HttpResponseError) and cause.status_code == 403:
        return (
            f"no access while {step}: {translate(cause, step)}",
            f"give the identity a role on workspace {s.workspace_name} (AzureML Data Scientist to read and cancel, "
            "Contributor to change schedules), e.g. with `az role assignment create`",
        )
    if isinstance(cause, HttpResponseError) and cause.status_code == 404 and step == "signing in":
        return (
            f"no workspace {s.workspace_name!r} in resource group {s.resource_group!r} of subscription "
            f"{s.subscription_id}: {translate(cause, step)}",
            "check subscription_id, resource_group and workspace_name in the backends file "
            f"(`az ml workspace list -g {s.resource_group}` lists the workspaces there)",
        )
    if isinstance(cause, ServiceRequestError | ServiceResponseError):
        return (
            f"cannot reach Azure while {step}: {translate(cause, step)}",
            "check this host's network, DNS and proxy settings (HTTPS_PROXY)",
        )
    if isinstance(cause, UnansweredRequest):
        return f"the recording cannot answer while {step}: {cause}", "record or compose the missing request"
    return f"{step} failed: {translate(cause, step)}", "see the message above"
