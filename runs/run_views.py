"""A run's page and the actions on it.

They read the mirror; only a log read reaches a backend. Actions are requested here and carried out by tasks.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dashboard import roles
from dashboard.models import Action
from runs.actions import run_cancel, run_publish, run_resubmit
from runs.forms import PublishForm, ReasonForm
from runs.models import PipelineRun
from runs.pages import get_run, stop_polling

PAGE_SIZE = 50
LOG_TAIL_BYTES = 256 * 1024
LOG_POLL_BYTES = 256 * 1024


# --- one run --------------------------------------------------------------------------------


def _run_context(request: HttpRequest, run: PipelineRun, **extra) -> dict:
    actions = list(
        Action.objects.filter(target_type="run", backend=run.backend, target_id=run.external_id)
        .select_related("requested_by")
        .order_by("-requested_at", "-id")[:10]
    )
    user = request.user
    return {
        "run": run,
        "steps": list(run.steps.all()),
        "actions": actions,
        "actions_pending": any(not a.is_finished for a in actions),
        "can_cancel": user.has_perm(roles.CANCEL) and not run.is_terminal,
        "can_resubmit": user.has_perm(roles.RESUBMIT),
        "can_publish": user.has_perm(roles.PUBLISH),
        **extra,
    }


@require_GET
@roles.require(roles.READ)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(pk)
    context = _run_context(request, run)
    if request.htmx and request.htmx.target == "run-live":
        response = render(request, "runs/run_detail.html#run-live", context)
        # A terminal run with no action under way does not change any more.
        return stop_polling(response) if run.is_terminal and not context["actions_pending"] else response
    context.update(
        edges=list(run.edges.all()),
        published=list(run.published_as.all()),
        publish_form=PublishForm(initial={"name": run.pipeline_name or run.display_name}),
    )
    return render(request, "runs/run_detail.html", context)


def _after_action(request: HttpRequest, run: PipelineRun, action: Action) -> HttpResponse:
    if request.htmx:
        return render(request, "runs/run_detail.html#run-live", _run_context(request, run))
    messages.info(request, f"{action.get_kind_display()} requested (action #{action.pk}).")
    return redirect(run)


@require_POST
@roles.require(roles.CANCEL)
def run_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(pk)
    form = ReasonForm(request.POST)
    form.is_valid()
    action = run_cancel(run=run, user=request.user, reason=form.cleaned_data.get("reason", ""))
    return _after_action(request, run, action)


@require_POST
@roles.require(roles.RESUBMIT)
def run_resubmit_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(pk)
    form = ReasonForm(request.POST)
    form.is_valid()
    # "Rerun from failure" keeps what completed: the backend reuses those steps.
    force_rerun = request.POST.get("mode") != "from-failure"
    action = run_resubmit(
        run=run, user=request.user, reason=form.cleaned_data.get("reason", ""), force_rerun=force_rerun
    )
    return _after_action(request, run, action)


@require_POST
@roles.require(roles.PUBLISH)
def run_publish_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(pk)
    form = PublishForm(request.POST)
    if not form.is_valid():
        context = _run_context(request, run, publish_form=form, edges=list(run.edges.all()))
        return render(request, "runs/run_detail.html", context, status=400)
    data = form.cleaned_data
    action = run_publish(
        run=run,
        user=request.user,
        name=data["name"],
        description=data["description"],
        version=data["version"],
        continue_on_step_failure=data["continue_on_step_failure"],
        reason=data["reason"],
    )
    messages.info(request, f"Publishing {data['name']} (action #{action.pk}).")
    return redirect(run)
