"""A log line on its own page, and a whole log as a streamed download."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import (
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from backends.base import BackendErrorBase
from dashboard import roles
from dashboard.public import public_message
from runs.lineindex import LineIndex, StepLog
from runs.log_views import INDEX_SECONDS, LogRequest
from runs.logtext import Sgr, human_size, render_text

# --- a line on its own, and the whole log as a download -------------------------------------

LINE_VIEW_BYTES = 4 * 1024 * 1024  # a line's own view shows at most this much of it
DOWNLOAD_PIECE = 1024 * 1024


@require_GET
@roles.require(roles.READ)
def step_log_line(request: HttpRequest, pk: int, node_id: str, name: str, offset: int) -> HttpResponse:
    """The line that holds byte ``offset``, uncut (up to 4 MB shown; ``?raw=1`` streams all of it)."""
    lr = LogRequest(request, pk, node_id, name)
    try:
        size = lr.log.stat().size
        start = lr.log.line_start(min(offset, size))
        newline = lr.log.next_newline(start, size)
        end = newline if newline != -1 else size
        if request.GET.get("raw") == "1":
            response = StreamingHttpResponse(
                stream_log(lr.log, start, end), content_type="text/plain; charset=utf-8"
            )
            response["Content-Length"] = str(end - start)
            return response
        shown = min(end - start, LINE_VIEW_BYTES)
        data = lr.log.read(start, shown).data
        html, _ = render_text(
            data.decode("utf-8", errors="replace"), Sgr(), highlight=lr.highlight, limit=None
        )
        index = LineIndex(lr.log)
        number = index.line_of(start) if index.update(size, seconds=INDEX_SECONDS) else None
    except BackendErrorBase as exc:
        return render(
            request, "runs/step_log.html", lr.context(error=public_message(str(exc)), whole_line=True)
        )
    return render(
        request,
        "runs/step_log.html",
        lr.context(
            log_tabs=lr.tabs(size),
            whole_line=True,
            line_html=html,
            line_number=number,
            line_start=start,
            line_length=human_size(end - start),
            line_clipped=shown < end - start,
            line_shown=human_size(shown),
            raw_url=f"{request.path}?raw=1",
            back_url=lr.link(line=number) + f"#L{number}" if number else lr.link(at=start),
        ),
    )


@require_GET
@roles.require(roles.READ)
def step_log_download(request: HttpRequest, pk: int, node_id: str, name: str) -> HttpResponse:
    """The whole log as it is now, streamed a megabyte at a time."""
    lr = LogRequest(request, pk, node_id, name)
    try:
        size = lr.log.stat().size
    except BackendErrorBase as exc:
        return HttpResponse(f"The log could not be read: {exc}", status=502, content_type="text/plain")
    response = StreamingHttpResponse(stream_log(lr.log, 0, size), content_type="text/plain; charset=utf-8")
    response["Content-Length"] = str(size)
    filename = f"{lr.run.external_id}-{lr.step.node_id}-{name}.log"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


def stream_log(log: StepLog, start: int, stop: int, piece: int | None = None) -> Iterator[bytes]:
    """Bytes [start, stop) of a log, piece by piece: memory stays flat whatever the size."""
    for _, data in log.scan(start, stop, piece or DOWNLOAD_PIECE):
        yield data
