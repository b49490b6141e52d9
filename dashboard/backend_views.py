"""/backends/: each backend's health, sync lag, last error and what its mirror holds; "check now" for operators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from backends import registry
from backends.base import BackendError, BackendUnavailable, RunStatus
from dashboard import roles
from dashboard.actions import action_request
from dashboard.models import Action, BackendState
from runs.forms import ReasonForm
from runs.models import PipelineRun, PublishedPipeline
from schedules.models import Schedule


@dataclass
class BackendRow:
    name: str
    engine: str
    facts: tuple[tuple[str, str], ...]
    configured: bool
    state: BackendState | None
    active_runs: int = 0
    runs_today: int = 0
    schedules: int = 0
    published: int = 0

    @property
    def lag(self) -> timedelta | None:
        if self.state is None or self.state.last_success_at is None:
            return None
        return timezone.now() - self.state.last_success_at

    @property
    def healthy(self) -> bool:
        return self.state is None or self.state.healthy


def _counts(model, **filters) -> dict[str, int]:
    return dict(model.objects.filter(**filters).values_list("backend").annotate(n=Count("id")))


def backend_rows() -> list[BackendRow]:
    """Every configured backend and every one the mirror still holds rows of, with bounded counts."""
    states = {s.name: s for s in BackendState.objects.all()}
    configured = registry.names()
    active = _counts(PipelineRun, status__in=RunStatus.ACTIVE)
    today = _counts(PipelineRun, created_at__gte=timezone.now() - timedelta(hours=24))
    schedules = dict(Schedule.objects.values_list("backend").annotate(n=Count("id")))
    published = dict(PublishedPipeline.objects.values_list("backend").annotate(n=Count("id")))
    rows = []
    for name in sorted(set(configured) | set(states)):
        backend = registry.get_backend(name)
        rows.append(
            BackendRow(
                name=name,
                engine=backend.engine,
                facts=backend.describe(),
                configured=name in configured,
                state=states.get(name),
                active_runs=active.get(name, 0),
                runs_today=today.get(name, 0),
                schedules=schedules.get(name, 0),
                published=published.get(name, 0),
            )
        )
    return rows


@require_GET
@roles.require("dashboard.view_backendstate")
def backend_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "dashboard/backend_list.html",
        {
            "rows": backend_rows(),
            "can_check": request.user.has_perm(roles.CHECK_BACKEND),
            "checks": Action.objects.filter(kind=Action.Kind.CHECK_BACKEND).select_related("requested_by")[
                :10
            ],
        },
    )


@require_POST
@roles.require(roles.CHECK_BACKEND)
def backend_check(request: HttpRequest, name: str) -> HttpResponse:
    if name not in registry.names():
        messages.error(request, f"No backend named {name!r} is configured.")
        return redirect("backend_list")
    form = ReasonForm(request.POST)
    form.is_valid()
    action = action_request(
        kind=Action.Kind.CHECK_BACKEND,
        backend=name,
        target_type="backend",
        target_id=name,
        target_label=name,
        user=request.user,
        reason=form.cleaned_data.get("reason", ""),
    )
    messages.info(request, f"Checking {name} now (action #{action.pk}).")
    return redirect("backend_list")


def perform_check(action: Action) -> str:
    """A sync pass now, backoff or not, catalog included. A failure fails the action with the backend's words."""
    from runs.sync import sync_backend

    result = sync_backend(action.target_id, now=True)
    if not result.ran:
        raise BackendUnavailable("another sync of this backend is running")
    if result.error:
        raise BackendError(result.error)
    return f"Synced: read {result.runs} runs, {len(result.added)} added, {len(result.changed)} changed."
