"""Run pages: the runs list, a run and its actions, a step's log.

They read the mirror; only a log read reaches a backend. Actions are requested here and carried out by tasks.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from backends.base import BackendErrorBase
from backends.registry import get_backend
from dashboard import roles
from dashboard.models import Action
from dashboard.paging import keyset_page
from runs.actions import run_cancel, run_publish, run_resubmit
from runs.forms import PublishForm, ReasonForm
from runs.logtext import decode_chunk, skip_partial_line
from runs.models import PipelineRun, StepRun

PAGE_SIZE = 50
LOG_TAIL_BYTES = 256 * 1024
LOG_POLL_BYTES = 256 * 1024


def _stop_polling(response: HttpResponse) -> HttpResponse:
    # 286 tells htmx to stop polling; the content is still swapped in.
    response.status_code = HttpResponseStopPolling.status_code
    return response


# --- runs list ------------------------------------------------------------------------------


@require_GET
@roles.require(roles.READ)
def run_list(request: HttpRequest) -> HttpResponse:
    runs = PipelineRun.objects.select_related("pipeline")
    page = keyset_page(runs, request.GET.get("cursor", ""), field="created_at", size=PAGE_SIZE)
    if not page.cursor_valid:
        messages.error(request, "That page link is not valid any more; showing the newest runs.")
    # The newest page can always gain a run; an older page changes only while one of its runs is active.
    live = not page.cursor or any(not r.is_terminal for r in page.items)
    context = {"runs": page.items, "next_cursor": page.next_cursor, "cursor": page.cursor, "live": live}
    if request.htmx and request.htmx.target == "run-table":
        response = render(request, "runs/run_list.html#run-table", context)
        return response if live else _stop_polling(response)
    return render(request, "runs/run_list.html", context)


# --- one run --------------------------------------------------------------------------------


def _get_run(pk: int) -> PipelineRun:
    return get_object_or_404(PipelineRun.objects.select_related("pipeline", "published_pipeline"), pk=pk)


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
    run = _get_run(pk)
    context = _run_context(request, run)
    if request.htmx and request.htmx.target == "run-live":
        response = render(request, "runs/run_detail.html#run-live", context)
        # A terminal run with no action under way does not change any more.
        return _stop_polling(response) if run.is_terminal and not context["actions_pending"] else response
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
    run = _get_run(pk)
    form = ReasonForm(request.POST)
    form.is_valid()
    action = run_cancel(run=run, user=request.user, reason=form.cleaned_data.get("reason", ""))
    return _after_action(request, run, action)


@require_POST
@roles.require(roles.RESUBMIT)
def run_resubmit_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = _get_run(pk)
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
    run = _get_run(pk)
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


# --- a step's log ---------------------------------------------------------------------------


@require_GET
@roles.require(roles.READ)
def step_log(request: HttpRequest, pk: int, node_id: str, name: str) -> HttpResponse:
    run = _get_run(pk)
    step = get_object_or_404(StepRun, run=run, node_id=node_id)
    if name not in step.log_names:
        raise Http404(f"Step {node_id} has no log named {name}.")
    backend = get_backend(run.backend)
    offset_raw = request.GET.get("offset")
    try:
        if request.htmx and offset_raw is not None:
            return _log_tail(request, backend, run, step, name, offset_raw)
        size = backend.read_log(run.external_id, step.external_id, name, 0, 0).size
        start = max(0, size - LOG_TAIL_BYTES)
        chunk = backend.read_log(run.external_id, step.external_id, name, start, LOG_TAIL_BYTES)
        error = ""
    except BackendErrorBase as exc:
        chunk, error, start = None, str(exc), 0
    text, next_offset = "", 0
    if chunk is not None:
        data = chunk.data
        skipped = skip_partial_line(data) if start > 0 else 0
        text, used = decode_chunk(data[skipped:], final=not chunk.more)
        next_offset = chunk.offset + skipped + used
    return render(
        request,
        "runs/step_log.html",
        {
            "run": run,
            "step": step,
            "name": name,
            "text": text,
            "truncated": start > 0,
            "next_offset": next_offset,
            "live": chunk is not None and chunk.more,
            "error": error,
        },
    )


def _log_tail(request: HttpRequest, backend, run, step, name: str, offset_raw: str) -> HttpResponse:
    if not offset_raw.isdigit():
        return HttpResponse("offset must be a whole number of bytes", status=400)
    chunk = backend.read_log(run.external_id, step.external_id, name, int(offset_raw), LOG_POLL_BYTES)
    text, used = decode_chunk(chunk.data, final=not chunk.more)
    live = chunk.more or chunk.offset + used < chunk.size
    response = render(
        request,
        "runs/step_log.html#log-tail",
        {
            "run": run,
            "step": step,
            "name": name,
            "tail_text": text,
            "next_offset": chunk.offset + used,
            "live": live,
        },
    )
    return response if live else _stop_polling(response)
