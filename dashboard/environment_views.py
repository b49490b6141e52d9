"""/environments/: the local engine's built environments (backends/local/environments.py), their build logs, and
their removal by operators.

The environments are the local engine's own storage in its folder, not objects a backend mirrors, so the page reads
the engine's rows directly. Removing one is still an Action: it is audited with every other change, and carried
out by the action task, which refuses while a step runs in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from backends import registry
from backends.base import BackendError
from backends.local import config as local_config
from backends.local import environments
from backends.local.environment_models import LocalEnvironment, LocalEnvironmentUse
from dashboard import roles
from dashboard.actions import action_request
from dashboard.models import Action
from runs.forms import ReasonForm
from runs.models import PipelineRun

KEY = re.compile(r"[0-9a-f]{16}")
SHOWN_LOG_BYTES = 1_000_000  # a build log's tail shown on its page; the download has all of it
LISTED = 200


@dataclass
class Use:
    label: str
    url: str  # the step's system log in the mirror; "" while its run is not mirrored yet
    at: datetime


@dataclass
class EnvironmentRow:
    environment: LocalEnvironment
    uses: list[Use]
    use_count: int
    removal: Action | None  # a removal asked for and not finished


def local_backend() -> str:
    """The name the local engine is configured under (``local`` unless the backends file says otherwise)."""
    return next((n for n in registry.names() if registry.get_backend(n).engine == "local"), "local")


def _uses(listed: list[environments.Listed], backend: str) -> dict[int, Use]:
    run_ids = {use.step.run_id for row in listed for use in row.uses}
    mirrored = dict(
        PipelineRun.objects.filter(backend=backend, external_id__in=run_ids).values_list("external_id", "pk")
    )

    def use(u: LocalEnvironmentUse) -> Use:
        pk = mirrored.get(u.step.run_id)
        url = reverse("runs:step_log", args=[pk, u.step.node_id, "system"]) if pk else ""
        return Use(label=f"{u.step.run_id} · {u.step.node_id}", url=url, at=u.used_at)

    return {u.pk: use(u) for row in listed for u in row.uses}


@require_GET
@roles.require(roles.READ_ENVIRONMENTS)
def environment_list(request: HttpRequest) -> HttpResponse:
    backend = local_backend()
    listed = environments.listing(limit=LISTED)
    uses = _uses(listed, backend)
    removals = Action.objects.filter(kind=Action.Kind.REMOVE_ENVIRONMENT).select_related("requested_by")
    pending = {a.target_id: a for a in removals.exclude(status__in=Action.FINISHED)}
    rows = [
        EnvironmentRow(
            environment=row.environment,
            uses=[uses[u.pk] for u in row.uses],
            use_count=row.use_count,
            removal=pending.get(row.environment.pk),
        )
        for row in listed
    ]
    return render(
        request,
        "dashboard/environment_list.html",
        {
            "rows": rows,
            "total_size": environments.megabytes(sum(r.environment.size_bytes or 0 for r in rows)),
            "folder": environments.root(),
            "building": local_config.current().build_environments,
            "can_remove": request.user.has_perm(roles.REMOVE_ENVIRONMENT),
            "removals": removals[:10],
            "listed": LISTED,
        },
    )


def _environment(key: str) -> LocalEnvironment:
    found = LocalEnvironment.objects.filter(pk=key).first() if KEY.fullmatch(key) else None
    if found is None:
        raise Http404("No such environment.")
    return found


@require_GET
@roles.require(roles.READ_ENVIRONMENTS)
def environment_log(request: HttpRequest, key: str) -> HttpResponse:
    environment = _environment(key)
    path = environments.build_log(environment.pk)
    text, cut = "", False
    if path.exists():
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            cut = size > SHOWN_LOG_BYTES
            fh.seek(max(0, size - SHOWN_LOG_BYTES))
            text = fh.read().decode("utf-8", "replace")
    return render(
        request,
        "dashboard/environment_log.html",
        {"environment": environment, "log": text, "cut": cut, "path": path, "exists": path.exists()},
    )


@require_POST
@roles.require(roles.REMOVE_ENVIRONMENT)
def environment_remove(request: HttpRequest, key: str) -> HttpResponse:
    environment = _environment(key)
    form = ReasonForm(request.POST)
    form.is_valid()
    action = action_request(
        kind=Action.Kind.REMOVE_ENVIRONMENT,
        backend=local_backend(),
        target_type="environment",
        target_id=environment.pk,
        target_label=str(environment),
        user=request.user,
        reason=form.cleaned_data.get("reason", ""),
    )
    messages.info(request, f"Removing environment {environment.pk} (action #{action.pk}).")
    return redirect("environment_list")


def perform_remove(action: Action) -> str:
    """The action task's part: a refusal (a step runs in it, a build is under way) fails the action, saying why."""
    try:
        return environments.remove(action.target_id)
    except environments.CannotRemove as refused:
        raise BackendError(str(refused)) from None
