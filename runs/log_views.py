"""A step's log: windows of whole lines read by byte range, live tail, line links, search and download.

They read the mirror; only a log read reaches a backend, and never a whole log: a page shows a window of about
256 KB, the browser adds windows before or after it (and drops the farthest ones, see static/log.js), a search and
a download read the log in pieces.

One URL serves the page and its fragments (htmx): ``?offset=`` polls the live tail, ``?before=`` is the window
before a byte offset, ``?after=`` the window after one. Without JavaScript the same parameters open a page.
``?line=N`` and ``?at=OFFSET`` open the log around a line; ``?q=`` searches (``case=1``: match case), and with
``find=next|prev&from=OFFSET`` goes to the next or previous match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from backends.base import BackendErrorBase, BackendUnavailable, RunStatus
from backends.registry import get_backend
from dashboard import params, roles
from dashboard.public import public_message
from runs.file_views import output_url
from runs.lineindex import LineIndex, StepLog
from runs.logsearch import SearchResult, find_next, find_previous, search_log
from runs.logtext import LineLinks, Sgr, highlighter, human_size, render_lines
from runs.models import PipelineRun, StepRun
from runs.pages import get_run, stop_polling

LOG_TAIL_BYTES = 256 * 1024  # the first screen: the end of the log
LOG_WINDOW_BYTES = 256 * 1024  # each "earlier" or "later" window, and the live tail's reads
LOG_CONTEXT_BYTES = 64 * 1024  # shown before a line that is opened by number
LOG_POLL_BYTES = 256 * 1024
INDEX_SECONDS = 5.0  # counting a log's lines for the first time takes at most this long per request


@dataclass
class Window:
    """Whole lines [start, end) of a log of ``size`` bytes, rendered, and what may follow them."""

    start: int
    end: int  # where the next line starts: the live tail reads from here
    size: int
    html: str
    first_line: int | None
    next_line: int | None
    pending_html: str = ""  # a last line the step is still writing
    live: bool = False  # reaches the end of a log that may still grow
    current_start: int | None = None  # bytes of the line opened by number, for "previous/next match"
    current_end: int | None = None

    @property
    def earlier_bytes(self) -> str:
        return human_size(self.start)


class LogRequest:
    """The step, its log and what the query string asks for."""

    INTS = ("offset", "before", "after", "at", "from")

    def __init__(self, request: HttpRequest, pk: int, node_id: str, name: str) -> None:
        self.run: PipelineRun = get_run(pk)
        self.step: StepRun = get_object_or_404(StepRun, run=self.run, node_id=node_id)
        if name not in self.step.log_names:
            raise Http404(f"Step {node_id} has no log named {name}.")
        self.name = name
        self.log = StepLog(get_backend(self.run.backend), self.run.external_id, self.step.external_id, name)
        self.url = reverse("runs:step_log", args=[pk, node_id, name])
        self.line_view_url = reverse("runs:step_log_line", args=[pk, node_id, name, 0]).replace(
            "/at/0/", "/at/{start}/"
        )
        get = request.GET
        # Offsets and line numbers are clamped to the log where they are used; here, only their form.
        self.values: dict[str, int | None] = {key: params.whole(get.get(key), key) for key in self.INTS}
        self.values["line"] = params.whole(get.get("line"), "line", low=1)
        self.query = get.get("q", "")[:500]
        self.case_sensitive = get.get("case") == "1"
        self.find = get.get("find", "")
        self.highlight = highlighter(self.query, case_sensitive=self.case_sensitive)
        carry = {"q": self.query, "case": "1"} if self.case_sensitive else {"q": self.query}
        self.carry = urlencode(carry) if self.query else ""  # kept in links, so highlights stay
        self.links = LineLinks(whole_line_url=self.line_view_url, query=self.carry)
        self.files_browsable = self.log.backend.supports("list_files")

    def outputs(self) -> list[tuple[str, str, str]]:
        """(name, location, URL of its page or "") of each of the step's outputs."""
        return [
            (name, location, output_url(self.run.pk, self.step.node_id, name) if self.files_browsable else "")
            for name, location in self.step.outputs.items()
        ]

    def tabs(self, current_size: int | None = None) -> list[tuple[str, str, str]]:
        """(name, URL, size in words or "") of each of the step's logs, for the tabs above the log.

        The shown log's size is known; each other log's costs one read of no bytes (a size and nothing else).
        Given no size, the tabs say none: a page showing why the log could not be read reads no other.
        """
        tabs = []
        for name in self.step.log_names:
            size: int | None = None
            if name == self.name:
                size = current_size
            elif current_size is not None:
                try:
                    size = (
                        StepLog(self.log.backend, self.run.external_id, self.step.external_id, name)
                        .stat()
                        .size
                    )
                except BackendErrorBase:
                    size = None  # the tab still leads to the log, whose page says what went wrong
            url = reverse("runs:step_log", args=[self.run.pk, self.step.node_id, name])
            tabs.append((name, url, "" if size is None else human_size(size)))
        return tabs

    def __getitem__(self, key: str) -> int | None:
        return self.values[key]

    def link(self, **params) -> str:
        query = {k: v for k, v in params.items() if v is not None}
        if self.query:
            query["q"] = self.query
            if self.case_sensitive:
                query["case"] = "1"
        return f"{self.url}?{urlencode(query)}" if query else self.url

    def context(self, **extra) -> dict:
        return {
            "run": self.run,
            "step": self.step,
            "step_ended": RunStatus.is_terminal(self.step.status),
            "name": self.name,
            "log_url": self.url,
            "carry": self.carry,
            "q": self.query,
            "case_sensitive": self.case_sensitive,
            "log_tabs": self.tabs(),
            "outputs": self.outputs(),
            "snapshot_url": (
                reverse("runs:step_snapshot", args=[self.run.pk, self.step.node_id])
                if self.step.snapshot and self.files_browsable
                else ""
            ),
            **extra,
        }


# --- a step's log ---------------------------------------------------------------------------


@require_GET
@roles.require(roles.READ)
def step_logs(request: HttpRequest, pk: int, node_id: str) -> HttpResponse:
    """A step's logs: the one that says most about the step. What a step's box in the graph opens."""
    run = get_run(pk)
    step = get_object_or_404(StepRun, run=run, node_id=node_id)
    name = log_worth_reading(
        step, lambda log: StepLog(get_backend(run.backend), run.external_id, step.external_id, log)
    )
    return HttpResponseRedirect(reverse("runs:step_log", args=[pk, node_id, name]))


def log_worth_reading(step: StepRun, open_log: Callable[[str], StepLog]) -> str:
    """The log that holds a failed step's error (stderr, unless the step wrote nothing there: then stdout), else
    the step's first log. A failed step's stderr costs one read of no bytes, to learn its size."""
    names = step.log_names
    fallback = "stdout" if "stdout" in names else step.default_log
    if step.status not in (RunStatus.FAILED, RunStatus.NOT_RESPONDING) or "stderr" not in names:
        return step.default_log
    try:
        size = open_log("stderr").stat().size
    except BackendErrorBase:
        return "stderr"  # unreadable now: its page says why, and the error is most likely there
    return "stderr" if size else fallback


@require_GET
@roles.require(roles.READ)
def step_log(request: HttpRequest, pk: int, node_id: str, name: str) -> HttpResponse:
    log_request = LogRequest(request, pk, node_id, name)
    try:
        if request.htmx and log_request["offset"] is not None:
            return _live_tail(request, log_request)
        if request.htmx and log_request["before"] is not None:
            return _fragment(request, log_request, "runs/step_log.html#log-before")
        if request.htmx and log_request["after"] is not None:
            return _fragment(request, log_request, "runs/step_log.html#log-after")
        if log_request.find in ("next", "prev") and log_request.query:
            return _find(request, log_request)
        return _page(request, log_request)
    except BackendErrorBase as exc:
        if request.htmx:
            status = 503 if isinstance(exc, BackendUnavailable) else 502
            return HttpResponse(f"The log could not be read: {exc}", status=status, content_type="text/plain")
        return render(request, "runs/step_log.html", log_request.context(error=public_message(str(exc))))


def _page(request: HttpRequest, lr: LogRequest) -> HttpResponse:
    stat = lr.log.stat()
    # Until the mirror has the step's end, the page follows it live (so its header comes to say how it ended).
    size, more = stat.size, stat.more or not RunStatus.is_terminal(lr.step.status)
    index = LineIndex(lr.log)
    numbered = index.update(size, seconds=INDEX_SECONDS)
    notice = ""
    search: SearchResult | None = None
    current = None
    if lr.query and lr["line"] is None and lr["at"] is None:
        search = search_log(
            lr.log, lr.query, case_sensitive=lr.case_sensitive, index=index if numbered else None
        )

    anchor = None
    if lr["line"] is not None:
        anchor = index.offset_of(lr["line"], size) if numbered else None
        if anchor is not None:
            current = lr["line"]
        elif numbered:
            notice = f"The log has no line {lr['line']:,}: here is its end."
        else:
            notice = "This log's lines are still being counted: reload in a moment to open a line by number."
    elif lr["at"] is not None:
        anchor = lr.log.line_start(min(lr["at"], size))
        current = index.line_of(anchor) if numbered else None

    if anchor is not None:
        start = lr.log.start_before(anchor, LOG_CONTEXT_BYTES)
        window = _window(
            lr,
            index if numbered else None,
            start,
            size,
            more,
            budget=LOG_WINDOW_BYTES,
            mark=(anchor, current),
        )
    elif lr["before"] is not None:
        end = _line_boundary(lr.log, min(lr["before"], size), size)
        start = lr.log.start_before(end, LOG_WINDOW_BYTES)
        window = _window(lr, index if numbered else None, start, end, more, size=size)
    elif lr["after"] is not None:
        start = _line_boundary(lr.log, min(lr["after"], size), size)
        window = _window(lr, index if numbered else None, start, size, more, budget=LOG_WINDOW_BYTES)
    else:
        start = lr.log.start_before(size, LOG_TAIL_BYTES)
        window = _window(lr, index if numbered else None, start, size, more)

    line_count = None
    if numbered and size:
        line_count = index.line_count(size, lr.log.read(size - 1, 1).data)
    return render(
        request,
        "runs/step_log.html",
        lr.context(
            log_tabs=lr.tabs(size),
            window=window,
            size=size,
            size_text=human_size(size),
            empty_reason="" if size else _why_empty(lr.step, lr.name),
            line_count=line_count,
            line_count_text=f"{line_count:,}" if line_count is not None else "",
            numbered=numbered,
            search=search,
            current=current,
            notice=notice,
            match_nav=bool(lr.query and current is not None),
            prev_match_url=lr.link(find="prev", **{"from": window.current_start}, line=current),
            next_match_url=lr.link(find="next", **{"from": window.current_end}, line=current),
            earlier_url=lr.link(before=window.start),
            later_url=lr.link(after=window.end),
            tail_url=lr.link(offset=window.end, line=window.next_line),
        ),
    )


def _window(
    lr: LogRequest,
    index: LineIndex | None,
    start: int,
    stop: int,
    more: bool,
    *,
    budget: int | None = None,
    size: int | None = None,
    first_line: int | None = None,
    mark: tuple[int, int | None] | None = None,
) -> Window:
    """The lines from ``start`` (a line start) to ``stop`` or the budget; a last line still being written apart.

    ``mark``: the offset and number of a line opened by number, shown highlighted (in the HTML, so without
    JavaScript too).
    """
    size = stop if size is None else size
    if first_line is None and index is not None:
        first_line = index.line_of(start)
    lines, end = lr.log.lines(start, stop, first_line, budget=budget)
    pending = None
    if more and lines and not lines[-1].complete:
        pending = lines.pop()
        end = pending.start
    sgr = Sgr()
    current = mark[1] if mark else None
    html = render_lines(lines, lr.links, sgr=sgr, highlight=lr.highlight, current=current)
    next_line = lines[-1].number + 1 if lines and lines[-1].number is not None else first_line
    pending_html = ""
    if pending is not None:
        pending_html = render_lines([pending], lr.links, sgr=sgr, highlight=lr.highlight, final=False)
    reaches_end = (pending.end if pending else end) >= size
    current_end = None
    if mark:
        current_end = next((line.end for line in lines if line.start == mark[0]), end)
    return Window(
        start=start,
        end=end,
        size=size,
        html=html,
        first_line=first_line,
        next_line=next_line,
        pending_html=pending_html,
        live=more and reaches_end,
        current_start=mark[0] if mark else None,
        current_end=current_end,
    )


def _line_boundary(log: StepLog, offset: int, size: int) -> int:
    """``offset`` if a line starts there (or the log ends there), else the start of the line holding it."""
    if offset in (0, size):
        return offset
    return log.line_start(offset)


def _fragment(request: HttpRequest, lr: LogRequest, template: str) -> HttpResponse:
    """The window before or after an offset, for htmx to put in place of the link that asked for it."""
    stat = lr.log.stat()
    size, more = stat.size, stat.more
    index = LineIndex(lr.log)
    numbered = index.update(size, seconds=INDEX_SECONDS)
    if lr["before"] is not None:
        end = _line_boundary(lr.log, min(lr["before"], size), size)
        start = lr.log.start_before(end, LOG_WINDOW_BYTES)
        window = _window(lr, index if numbered else None, start, end, more, size=size)
    else:
        start = _line_boundary(lr.log, min(lr["after"], size), size)
        window = _window(lr, index if numbered else None, start, size, more, budget=LOG_WINDOW_BYTES)
    return render(
        request,
        template,
        lr.context(
            window=window,
            earlier_url=lr.link(before=window.start),
            later_url=lr.link(after=window.end),
            tail_url=lr.link(offset=window.end, line=window.next_line),
        ),
    )


def _why_empty(step: StepRun, name: str) -> str:
    """Why a log holds nothing, in the step's own terms."""
    if step.status in (RunStatus.NOT_STARTED, RunStatus.QUEUED):
        return f"The step has not started yet ({step.status}): its {name} appears here when it does."
    if step.started_at is None and RunStatus.is_terminal(step.status):
        reason = step.error.removeprefix("Not run: ").rstrip(".") if step.error else step.status.lower()
        return f"The step never ran: {reason}."
    if step.is_reused:
        return f"The step was reused: the run it came from wrote no {name}."
    if RunStatus.is_terminal(step.status):
        return f"The step ended {step.status} without writing to {name}."
    return f"Nothing written to {name} yet: new output appears as the step writes it."


def _live_tail(request: HttpRequest, lr: LogRequest) -> HttpResponse:
    """What the step wrote since ``offset``: whole lines, then its last line so far, which the next poll redoes."""
    stat = lr.log.stat()
    size, more = stat.size, stat.more
    offset = min(lr["offset"], size)
    first_line = lr["line"]
    if first_line is None:
        index = LineIndex(lr.log)
        first_line = index.line_of(offset) if index.indexed else None
    window = _window(lr, None, offset, size, more, budget=LOG_POLL_BYTES, first_line=first_line)
    # A writer faster than one read a poll: keep catching up. A log the backend calls complete before the mirror
    # has the step's end: keep polling, so that the header (brought along below) says how the step ended.
    ended = RunStatus.is_terminal(lr.step.status)
    window.live = more or window.end < size or not ended
    lines = (
        window.next_line - 1 if window.next_line and window.end == size and not window.pending_html else None
    )
    response = render(
        request,
        "runs/step_log.html#log-tail-answer",
        lr.context(
            window=window,
            later_url=lr.link(after=window.end),
            tail_url=lr.link(offset=window.end, line=window.next_line),
            size_text=human_size(size),
            line_count=lines,
            line_count_text=f"{lines:,}" if lines is not None else "",
        ),
    )
    return response if window.live else stop_polling(response)


def _find(request: HttpRequest, lr: LogRequest) -> HttpResponse:
    """Go to the next (or previous) match from an offset: to its line, or back with a message."""
    origin = min(lr["from"] or 0, lr.log.stat().size)
    if lr.find == "next":
        found = find_next(lr.log, lr.query, case_sensitive=lr.case_sensitive, start=origin)
    else:
        found = find_previous(lr.log, lr.query, case_sensitive=lr.case_sensitive, before=origin)
    if found == -1:
        where = "after" if lr.find == "next" else "before"
        messages.info(request, f"No match for “{lr.query}” {where} this line.")
        line = lr["line"]
        return HttpResponseRedirect(lr.link(line=line) + (f"#L{line}" if line else ""))
    stat = lr.log.stat()
    index = LineIndex(lr.log)
    if index.update(stat.size, seconds=INDEX_SECONDS):
        line = index.line_of(found)
        return HttpResponseRedirect(f"{lr.link(line=line)}#L{line}")
    return HttpResponseRedirect(lr.link(at=found))
