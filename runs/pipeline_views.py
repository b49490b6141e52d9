"""The pipelines page (each pipeline's recent health) and a pipeline's page (its runs and duration trend, and a
form that starts a run of it, whose submissions the page follows live until each has its run)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

from django.contrib import messages
from django.db import connection
from django.db.models import BigIntegerField, Count, F, Func
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from backends.base import RunStatus
from backends.registry import get_backend
from dashboard import roles
from dashboard.models import Action
from runs.actions import pipeline_submit
from runs.filters import known_backends
from runs.forms import SubmitPipelineForm
from runs.models import Pipeline, PipelineRun
from runs.pages import stop_polling
from runs.templatetags.runboard import status_class
from runs.views import render_run_list

SUBMISSIONS = 10  # the pipeline's latest submissions, shown on its page
RECENT = 20  # runs behind a pipeline's success rate and median duration
TREND = 50  # runs in a pipeline page's duration trend
# SQLite allows 500 terms in a compound SELECT.
UNION_CHUNK = 400


@dataclass
class RecentRun:
    pk: int
    pipeline_id: int
    status: str
    duration_seconds: float | None
    created_at: datetime
    display_name: str
    external_id: str

    @property
    def is_terminal(self) -> bool:
        return RunStatus.is_terminal(self.status)

    def get_absolute_url(self) -> str:
        return reverse("runs:detail", args=[self.pk])

    def __str__(self) -> str:
        return self.display_name or self.external_id


_COLUMNS = ("id", "pipeline_id", "status", "duration_seconds", "created_at", "display_name", "external_id")


def recent_runs(pipeline_ids: list[int], per_pipeline: int) -> dict[int, list[RecentRun]]:
    """Each pipeline's newest runs, newest first: one index range of (pipeline, -created_at, -id) per pipeline,
    in one query (PostgreSQL: a LATERAL join; SQLite: a UNION ALL of the ranges)."""
    table = PipelineRun._meta.db_table
    columns = ", ".join(f'r."{c}"' for c in _COLUMNS)
    inner = (
        f'FROM "{table}" r WHERE r."pipeline_id" = {{pid}} AND r."created_at" IS NOT NULL '
        f'ORDER BY r."created_at" DESC, r."id" DESC LIMIT {int(per_pipeline)}'
    )
    found: dict[int, list[RecentRun]] = {pk: [] for pk in pipeline_ids}
    if not pipeline_ids:
        return found
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT {columns} FROM unnest(%s::bigint[]) AS p(id) "
                f"CROSS JOIN LATERAL (SELECT r.* {inner.format(pid='p.id')}) r",
                [list(pipeline_ids)],
            )
            rows = cursor.fetchall()
        else:
            rows = []
            for start in range(0, len(pipeline_ids), UNION_CHUNK):
                chunk = pipeline_ids[start : start + UNION_CHUNK]
                sql = " UNION ALL ".join(
                    f"SELECT * FROM (SELECT {columns} {inner.format(pid='%s')})" for _ in chunk
                )
                cursor.execute(sql, chunk)
                rows += cursor.fetchall()
    for row in rows:
        run = RecentRun(*row)
        run.created_at = _aware(run.created_at)
        found[run.pipeline_id].append(run)
    for runs in found.values():
        runs.sort(key=lambda r: (r.created_at, r.pk), reverse=True)
    return found


def _aware(value: datetime | str) -> datetime:
    """A raw cursor's datetime: SQLite keeps naive UTC (or text, through a subquery); PostgreSQL aware."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if timezone.is_naive(value) else value


def run_stats(runs: list[RecentRun]) -> dict:
    """Success rate and median duration of the finished runs among ``runs``."""
    finished = [r for r in runs if r.is_terminal]
    durations = [r.duration_seconds for r in finished if r.duration_seconds is not None]
    completed = sum(r.status == RunStatus.COMPLETED for r in finished)
    return {
        "last": runs[0] if runs else None,
        "considered": len(runs),
        "finished": len(finished),
        "success_rate": round(100 * completed / len(finished)) if finished else None,
        "median_duration": timedelta(seconds=statistics.median(durations)) if durations else None,
    }


def runs_per_pipeline_since(since: datetime) -> dict[int, int]:
    """How many runs each pipeline started since ``since``: one range of the created_at index, grouped.

    On SQLite the group key is written ``+pipeline_id``: else, knowing no better, it reads the whole
    (pipeline, created_at) index in pipeline order to group, instead of the last day's range."""
    key = F("pipeline_id")
    if connection.vendor == "sqlite":
        key = Func(key, template="+%(expressions)s", output_field=BigIntegerField())
    rows = (
        PipelineRun.objects.filter(created_at__gte=since)
        .order_by()
        .annotate(group=key)
        .values("group")
        .annotate(n=Count("id"))
        .values_list("group", "n")
    )
    return {pipeline: n for pipeline, n in rows if pipeline is not None}


def status_marks(runs: list[RecentRun]) -> SafeString:
    """A square per run, oldest first, coloured by status, each a link to its run. Drawn here: a template
    spends ~100 µs on each of the page's hundreds of marks."""
    marker = "987654321"
    pattern = reverse("runs:detail", args=[marker])
    marks = []
    for run in reversed(runs):
        when = timezone.localtime(run.created_at).strftime("%Y-%m-%d %H:%M")
        title = escape(f"{run} · {run.status} · {when}")
        marks.append(
            f'<a href="{pattern.replace(marker, str(run.pk))}" class="mark {status_class(run.status)}"'
            f' title="{title}"><span class="visually-hidden">{escape(run.status)}</span></a>'
        )
    return mark_safe("".join(marks))  # every value in it was escaped above


@require_GET
@roles.require(roles.READ)
def pipeline_list(request: HttpRequest) -> HttpResponse:
    backend = request.GET.get("backend", "").strip()
    pipelines = Pipeline.objects.order_by("name", "id")
    pipelines = list(pipelines.filter(backend=backend) if backend else pipelines)
    recent = recent_runs([p.pk for p in pipelines], RECENT)
    last_day = runs_per_pipeline_since(timezone.now() - timedelta(hours=24))
    rows = [
        {
            "pipeline": p,
            "stats": run_stats(recent[p.pk]),
            "marks": status_marks(recent[p.pk]),
            "last_day": last_day.get(p.pk, 0),
        }
        for p in pipelines
    ]
    return render(
        request,
        "runs/pipeline_list.html",
        {"rows": rows, "recent": RECENT, "backend": backend, "backends": known_backends()},
    )


# --- one pipeline --------------------------------------------------------------------------------

TREND_WIDTH, TREND_HEIGHT, BAR, GAP = 400, 64, 6, 2


def duration_trend(runs: list[RecentRun]) -> dict:
    """Bars for a server-drawn SVG: oldest on the left, height by duration, colour by status."""
    runs = list(reversed(runs))  # oldest first
    longest = max((r.duration_seconds or 0 for r in runs), default=0) or 1
    bars = []
    for i, run in enumerate(runs):
        height = (
            3
            if run.duration_seconds is None
            else max(2, round(run.duration_seconds / longest * (TREND_HEIGHT - 4)))
        )
        bars.append(
            {
                "run": run,
                "x": i * (BAR + GAP),
                "y": TREND_HEIGHT - height,
                "height": height,
                "duration": timedelta(seconds=run.duration_seconds)
                if run.duration_seconds is not None
                else None,
            }
        )
    durations = [r.duration_seconds for r in runs if r.duration_seconds is not None and r.is_terminal]
    median_y = None
    if durations:
        median_y = TREND_HEIGHT - max(2, round(statistics.median(durations) / longest * (TREND_HEIGHT - 4)))
    return {
        "bars": bars,
        "width": max(len(runs) * (BAR + GAP) - GAP, 1),
        "height": TREND_HEIGHT,
        "bar": BAR,
        "median_y": median_y,
        "longest": timedelta(seconds=longest) if durations else None,
    }


def submit_context(request: HttpRequest, pipeline: Pipeline, form: SubmitPipelineForm | None = None) -> dict:
    """The submit form, for a user who may start runs on a backend that can, and the latest submissions."""
    submissions = list(
        Action.objects.filter(
            kind=Action.Kind.SUBMIT_PIPELINE,
            target_type="pipeline",
            backend=pipeline.backend,
            target_id=pipeline.external_id,
        )
        .select_related("requested_by")
        .order_by("-requested_at", "-id")[:SUBMISSIONS]
    )
    can_submit = request.user.has_perm(roles.SUBMIT_PIPELINE) and get_backend(pipeline.backend).supports(
        "submit_run"
    )
    return {
        "fixed_pipeline": pipeline,
        "can_submit": can_submit,
        "submit_form": form or (SubmitPipelineForm(pipeline=pipeline) if can_submit else None),
        "submissions": submissions,
        "submissions_pending": any(not a.is_finished for a in submissions),
    }


def pipeline_page(
    request: HttpRequest, pipeline: Pipeline, form: SubmitPipelineForm | None = None
) -> HttpResponse:
    latest = recent_runs([pipeline.pk], TREND)[pipeline.pk]
    since = timezone.now() - timedelta(hours=24)
    return render_run_list(
        request,
        "runs/pipeline_detail.html",
        list_url=reverse("runs:pipeline_detail", args=[pipeline.pk]),
        pipeline=pipeline,
        stats=run_stats(latest[:RECENT]),
        recent=RECENT,
        trend=duration_trend(latest),
        last_day=PipelineRun.objects.filter(pipeline=pipeline, created_at__gte=since).count(),
        **submit_context(request, pipeline, form),
    )


@require_GET
@roles.require(roles.READ)
def pipeline_detail(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    if request.htmx and request.htmx.target == "pipeline-submissions":
        # The submissions follow themselves until each has its run (or its error), then stop polling.
        context = submit_context(request, pipeline)
        response = render(request, "runs/pipeline_detail.html#submissions", context)
        return response if context["submissions_pending"] else stop_polling(response)
    if request.htmx and request.htmx.target == "run-table" and not request.htmx.history_restore_request:
        list_url = reverse("runs:pipeline_detail", args=[pipeline.pk])
        return render_run_list(request, "runs/pipeline_detail.html", list_url=list_url, pipeline=pipeline)
    return pipeline_page(request, pipeline)


@require_POST
@roles.require(roles.SUBMIT_PIPELINE)
def pipeline_submit_view(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    form = SubmitPipelineForm(request.POST, pipeline=pipeline)
    if not form.is_valid():
        if request.htmx:  # the form again, each error beside its field (htmx swaps only a 2xx answer)
            return render(
                request, "runs/pipeline_detail.html#submit-form", submit_context(request, pipeline, form)
            )
        response = pipeline_page(request, pipeline, form)
        response.status_code = 400
        return response
    data = form.cleaned_data
    action = pipeline_submit(
        pipeline=pipeline,
        user=request.user,
        parameters=form.parameters(),
        experiment=data["experiment"],
        tags=data["tags"],
        reason=data["reason"],
    )
    if request.htmx:  # a fresh form, and out of band the submissions, following the new one
        context = submit_context(request, pipeline)
        return render(request, "runs/pipeline_detail.html#submitted", {**context, "submitted": action})
    messages.info(request, f"Run of {pipeline} requested (action #{action.pk}).")
    return redirect(pipeline)
