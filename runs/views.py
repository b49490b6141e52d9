"""Run pages: the runs list, a run, a step's log. They read the mirror; only a log read reaches a backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from backends.base import BackendErrorBase
from backends.registry import get_backend
from dashboard.models import Action
from runs.actions import run_cancel
from runs.logtext import decode_chunk, skip_partial_line
from runs.models import PipelineRun, StepRun

PAGE_SIZE = 50
LOG_TAIL_BYTES = 256 * 1024
LOG_POLL_BYTES = 256 * 1024


def can_cancel(user) -> bool:
    return user.has_perm("runs.cancel_pipelinerun")


# --- runs list ------------------------------------------------------------------------------


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _make_cursor(run: PipelineRun) -> str:
    # Whole microseconds since the epoch: exact, and nothing in it needs escaping in a URL.
    return f"{(run.created_at - EPOCH) // timedelta(microseconds=1)}_{run.pk}"


def _parse_cursor(raw: str) -> tuple[datetime, int] | None:
    micros, _, pk = raw.partition("_")
    if not (micros.isdigit() and pk.isdigit()):
        return None
    return EPOCH + timedelta(microseconds=int(micros)), int(pk)


@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    runs = PipelineRun.objects.newest_first().select_related("pipeline")
    cursor_raw = request.GET.get("cursor", "")
    cursor = _parse_cursor(cursor_raw) if cursor_raw else None
    if cursor_raw and cursor is None:
        messages.error(request, "That page link is not valid any more; showing the newest runs.")
    if cursor:
        when, pk = cursor
        # Keyset pagination: rows strictly after the last one shown, in (created_at, id) order.
        runs = runs.filter(created_at__lt=when) | runs.filter(created_at=when, id__lt=pk)
        runs = runs.order_by("-created_at", "-id")
    page = list(runs[: PAGE_SIZE + 1])
    has_more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    next_cursor = _make_cursor(page[-1]) if has_more and page else ""
    # The newest page can always gain a run; an older page changes only while one of its runs is active.
    live = not cursor or any(not r.is_terminal for r in page)
    context = {"runs": page, "next_cursor": next_cursor, "cursor": cursor_raw if cursor else "", "live": live}
    if request.htmx and request.htmx.target == "run-table":
        if not live:
            return HttpResponseStopPolling(render(request, "runs/run_list.html#run-table", context).content)
        return render(request, "runs/run_list.html#run-table", context)
    return render(request, "runs/run_list.html", context)


# --- one run --------------------------------------------------------------------------------


def _get_run(pk: int) -> PipelineRun:
    return get_object_or_404(PipelineRun.objects.select_related("pipeline"), pk=pk)


def _run_context(request: HttpRequest, run: PipelineRun) -> dict:
    steps = list(run.steps.all())
    actions = Action.objects.filter(target_type="run", backend=run.backend, target_id=run.external_id)
    actions_list = list(actions.select_related("requested_by")[:10])
    return {
        "run": run,
        "steps": steps,
        "edges": list(run.edges.all()),
        "can_cancel": can_cancel(request.user) and not run.is_terminal,
        "actions": actions_list,
        "actions_pending": any(not a.is_finished for a in actions_list),
    }


@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _get_run(pk)
    context = _run_context(request, run)
    if request.htmx and request.htmx.target == "run-live":
        response = render(request, "runs/run_detail.html#run-live", context)
        # 286 tells htmx to stop polling: a terminal run does not change any more.
        if run.is_terminal and not context["actions_pending"]:
            response.status_code = HttpResponseStopPolling.status_code
        return response
    return render(request, "runs/run_detail.html", context)


@require_POST
def run_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = _get_run(pk)
    if not can_cancel(request.user):
        raise PermissionDenied("You may not cancel runs.")
    action = run_cancel(run=run, user=request.user, reason=request.POST.get("reason", ""))
    if request.htmx:
        return render(request, "runs/run_detail.html#run-live", _run_context(request, run))
    messages.info(request, f"Cancel requested (action #{action.pk}).")
    return redirect(run)


# --- a step's log ---------------------------------------------------------------------------


@require_GET
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
            "steps": list(run.steps.all()),
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
    if not live:
        response.status_code = HttpResponseStopPolling.status_code
    return response
