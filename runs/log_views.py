"""A step's log: the tail, live, by byte range.

They read the mirror; only a log read reaches a backend. Actions are requested here and carried out by tasks.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from backends.base import BackendErrorBase
from backends.registry import get_backend
from dashboard import roles
from runs.logtext import decode_chunk, skip_partial_line
from runs.models import StepRun
from runs.pages import get_run, stop_polling

PAGE_SIZE = 50
LOG_TAIL_BYTES = 256 * 1024
LOG_POLL_BYTES = 256 * 1024


# --- a step's log ---------------------------------------------------------------------------


@require_GET
@roles.require(roles.READ)
def step_log(request: HttpRequest, pk: int, node_id: str, name: str) -> HttpResponse:
    run = get_run(pk)
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
    return response if live else stop_polling(response)
