"""/: the overview, the first page after login. It answers "is anything wrong?" in one screen and refreshes itself:
the whole body is one partial that polls the same URL (dashboard/overview.py and overview_runs.py hold the queries)."""

from __future__ import annotations

from datetime import timedelta
from html import escape

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from dashboard import overview, overview_runs, roles
from dashboard.links import object_url
from runs.templatetags.runboard import duration

POLL_EVERY = "10s"
FRAGMENT = "overview"  # the hx-target of the page's own poll


def _in_words(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 60 == 0:
        return f"{minutes // 60} hour{'s' if minutes != 60 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def overdue_rows(pipelines: list[overview_runs.OverduePipeline]) -> SafeString:
    """The stuck-runs table's rows. Drawn here rather than by an included template: at a busy hour every
    pipeline may have overdue runs, and an include costs ~100 µs a row against this ~10 µs. Every value from the
    mirror goes through ``escape``."""
    rows = []
    for p in pipelines:
        pk = p.pipeline.pk
        usual = duration(p.usual) if p.usual is not None else '<span class="sub">no run completed</span>'
        rows.append(
            f'<tr id="overdue-{pk}"><td><a href="{object_url("runs:pipeline_detail", pk)}">'
            f'{escape(str(p.pipeline))}</a> <span class="sub">{escape(p.pipeline.backend)}</span></td>'
            f'<td class="num"><a href="{escape(p.url)}" class="overview-overdue-count" id="overdue-count-{pk}">'
            f'{p.count:,}</a></td><td class="num">{usual}</td><td class="num">{duration(p.after)}</td></tr>'
        )
    return mark_safe("\n".join(rows))  # every value in it was escaped above


@require_GET
@roles.require(roles.READ)
def overview_page(request: HttpRequest) -> HttpResponse:
    data = overview.overview()
    context = {
        "o": data,
        "overdue_rows": overdue_rows(data.overdue.shown),
        "overdue_more_rows": overdue_rows(data.overdue.more),
        "poll_every": POLL_EVERY,
        "can_read_schedules": request.user.has_perm(roles.READ_SCHEDULES),
        "can_read_actions": request.user.has_perm("dashboard.view_action"),
        "can_read_backends": request.user.has_perm("dashboard.view_backendstate"),
        "failure_hours": overview_runs.FAILURE_HOURS,
        "missed_hours": overview.MISSED_HOURS,
        "upcoming_hours": overview.UPCOMING_HOURS,
        "overdue_factor": overview_runs.OVERDUE_FACTOR,
        "overdue_at_least": _in_words(overview_runs.OVERDUE_AT_LEAST),
        "overdue_without_history": _in_words(overview_runs.OVERDUE_WITHOUT_HISTORY),
        "usual_window": overview_runs.USUAL_WINDOW,
    }
    fragment = bool(request.htmx) and request.htmx.target == FRAGMENT
    template = "dashboard/overview.html#overview" if fragment else "dashboard/overview.html"
    return render(request, template, context)
