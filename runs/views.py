"""The runs list.

They read the mirror; only a log read reaches a backend. Actions are requested here and carried out by tasks.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard import roles
from dashboard.paging import keyset_page
from runs.models import PipelineRun
from runs.pages import stop_polling

PAGE_SIZE = 50
LOG_TAIL_BYTES = 256 * 1024
LOG_POLL_BYTES = 256 * 1024


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
        return response if live else stop_polling(response)
    return render(request, "runs/run_list.html", context)
