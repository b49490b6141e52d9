"""The overview's runs (/): active runs by backend and status, the last day's failures with their failing step, and
runs stuck longer than usual. A bounded number of queries whatever the number of runs.

- Active runs: grouped in the order of the (status, pipeline, created_at, backend) index, which holds every
  column read, so nothing is sorted; a pipeline's runs are on its backend.
- Failures: runs submitted in the last FAILURE_HOURS that failed, counted on the (status, created_at) index;
  the newest few with their failing step.
- Overdue runs: active runs (NotResponding aside, counted on its own) submitted longer ago than OVERDUE_FACTOR
  times their pipeline's usual time, and at least OVERDUE_AT_LEAST ago. A pipeline's usual time is the median,
  from submission to end, of its last USUAL_WINDOW completed runs: two bounded queries for the pipelines with
  active runs, kept in the cache for USUAL_TTL seconds. Then one count per pipeline, each a range of the same
  index, in one query (per UNION_AT_MOST pipelines with active runs). A run of no mirrored pipeline is judged
  only by NotResponding: there is no list of its kind to link to.

Each count comes with the runs list's URL that shows the same runs: a moment in it is written to the second,
and the count here uses that moment and the list's comparison (``created_after`` and ``created_before`` with a
time are both inclusive), so the two agree.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery

from backends.base import RunStatus
from dashboard.links import moment_param, object_url, runs_url, to_the_second
from runs.models import Pipeline, PipelineRun, StepRun

ACTIVE = [s for s in RunStatus.ALL if s in RunStatus.ACTIVE]  # in the vocabulary's order
OVERDUE_STATUSES = [s for s in ACTIVE if s != RunStatus.NOT_RESPONDING]
FAILURE_HOURS = 24
FAILURES_SHOWN = 6
OVERDUE_FACTOR = 3
OVERDUE_AT_LEAST = timedelta(minutes=30)
OVERDUE_WITHOUT_HISTORY = timedelta(hours=6)  # a pipeline with no completed run yet
OVERDUE_SHOWN = 6  # pipelines listed; the rest behind a disclosure
USUAL_WINDOW = 50
USUAL_TTL = 600
USUAL_CACHE_KEY = "overview:usual-times:v1"
UNION_AT_MOST = 400  # counts in one query (SQLite allows 500 terms in a compound SELECT)


# --- active runs --------------------------------------------------------------------------------------


class PipelineRef(NamedTuple):
    """What the page shows of a pipeline: read as a row, not a model (there may be a row per pipeline)."""

    pk: int
    backend: str
    name: str
    display_name: str

    def __str__(self) -> str:
        return self.display_name or self.name


@dataclass
class Cell:
    status: str
    count: int
    url: str


@dataclass
class BackendActive:
    backend: str
    cells: list[Cell]
    total: int
    url: str


@dataclass
class ActiveRuns:
    statuses: list[str]  # the columns: active statuses some run is in
    rows: list[BackendActive]
    column_totals: list[Cell]
    total: int
    url: str
    by_pipeline: dict[int, int]  # active runs that may be overdue, by pipeline
    pipelines: dict[int, PipelineRef]  # the pipelines of active runs
    by_backend: dict[str, int]
    not_responding: int
    not_responding_url: str


def active_runs() -> ActiveRuns:
    """Grouped in the index's own order (status, pipeline), which needs no sort; a pipeline's runs are on its
    backend. Runs of no mirrored pipeline are grouped by backend in a second, small range."""
    active = PipelineRun.objects.filter(status__in=ACTIVE).order_by()
    by_status_pipeline = list(
        active.filter(pipeline__isnull=False).values_list("status", "pipeline_id").annotate(n=Count("*"))
    )
    pipelines = {
        row[0]: PipelineRef(*row)
        for row in Pipeline.objects.filter(pk__in={pk for _, pk, _ in by_status_pipeline}).values_list(
            "pk", "backend", "name", "display_name"
        )
    }
    counts: dict[tuple[str, str], int] = defaultdict(int)
    by_pipeline: dict[int, int] = defaultdict(int)
    for status, pipeline_id, n in by_status_pipeline:
        if pipeline_id not in pipelines:  # removed in between: its runs have no pipeline by the next refresh
            continue
        counts[pipelines[pipeline_id].backend, status] += n
        if status in OVERDUE_STATUSES:
            by_pipeline[pipeline_id] += n
    for status, backend, n in (
        active.filter(pipeline__isnull=True).values_list("status", "backend").annotate(n=Count("*"))
    ):
        counts[backend, status] += n
    statuses = [s for s in ACTIVE if any(st == s for _, st in counts)]
    backends = sorted({b for b, _ in counts})
    table = []
    for backend in backends:
        cells = [Cell(s, counts.get((backend, s), 0), runs_url(status=s, backend=backend)) for s in statuses]
        table.append(
            BackendActive(
                backend,
                cells,
                sum(c.count for c in cells),
                runs_url(status=ACTIVE, backend=backend),
            )
        )
    column_totals = [
        Cell(s, sum(n for (_, st), n in counts.items() if st == s), runs_url(status=s)) for s in statuses
    ]
    return ActiveRuns(
        statuses=statuses,
        rows=table,
        column_totals=column_totals,
        total=sum(counts.values()),
        url=runs_url(status=ACTIVE),
        by_pipeline=dict(by_pipeline),
        pipelines=pipelines,
        by_backend={row.backend: row.total for row in table},
        not_responding=sum(n for (_, st), n in counts.items() if st == RunStatus.NOT_RESPONDING),
        not_responding_url=runs_url(status=RunStatus.NOT_RESPONDING),
    )


# --- failures -----------------------------------------------------------------------------------------


@dataclass
class Failures:
    count: int
    url: str
    since: datetime
    runs: list[PipelineRun]  # the newest, each with ``failing_step`` (a StepRun or None)


def failures(now: datetime) -> Failures:
    since = to_the_second(now - timedelta(hours=FAILURE_HOURS))
    failed = PipelineRun.objects.filter(status=RunStatus.FAILED, created_at__gte=since)
    count = failed.count()
    runs = list(
        failed.only(
            "id", "backend", "external_id", "display_name", "pipeline_name", "status", "error", "created_at"
        ).order_by("-created_at", "-id")[:FAILURES_SHOWN]
    )
    first_failed: dict[int, StepRun] = {}
    if runs:
        steps = (
            StepRun.objects.filter(run__in=runs, status=RunStatus.FAILED)
            .only("id", "run_id", "node_id", "display_name", "log_names", "error", "exit_code", "position")
            .order_by("run_id", "position", "node_id")
        )
        for step in steps:
            first_failed.setdefault(step.run_id, step)
    for run in runs:
        run.url = object_url("runs:detail", run.pk)
        run.failing_step = first_failed.get(run.pk)
    return Failures(count, runs_url(status=RunStatus.FAILED, created_after=moment_param(since)), since, runs)


# --- overdue runs -------------------------------------------------------------------------------------


def usual_times(pipeline_ids: list[int]) -> dict[int, float | None]:
    """Each pipeline's median time from submission to end over its last USUAL_WINDOW completed runs, in
    seconds (None: none completed yet). Cached; what the cache lacks is read in two queries: where each
    pipeline's window starts (a walk of USUAL_WINDOW entries down the (status, pipeline, created_at) index),
    then the window's rows."""
    cached = cache.get(USUAL_CACHE_KEY) or {}
    missing = [pk for pk in pipeline_ids if pk not in cached]
    if missing:
        finished = PipelineRun.objects.filter(status=RunStatus.COMPLETED, created_at__isnull=False)
        window_start = (
            finished.filter(pipeline_id=OuterRef("pk"))
            .order_by("-created_at")
            .values("created_at")[USUAL_WINDOW - 1 : USUAL_WINDOW]
        )
        starts = Pipeline.objects.filter(pk__in=missing).annotate(start=Subquery(window_start))
        condition = Q()
        for pk, start in starts.values_list("pk", "start"):
            condition |= Q(pipeline_id=pk, created_at__gte=start) if start else Q(pipeline_id=pk)
        spans: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
        if condition:
            rows = finished.filter(condition, finished_at__isnull=False).values_list(
                "pipeline_id", "created_at", "finished_at"
            )
            for pk, created, ended in rows:
                spans[pk].append((created, max(0.0, (ended - created).total_seconds())))
        fresh = {}
        for pk in missing:
            window = sorted(spans.get(pk, []), reverse=True)[:USUAL_WINDOW]  # ties at the start: the newest
            fresh[pk] = statistics.median(span for _, span in window) if window else None
        # Entries expire together: a pipeline's usual time is at most USUAL_TTL seconds old.
        cached = {**cached, **fresh}
        cache.set(USUAL_CACHE_KEY, cached, USUAL_TTL)
    return {pk: cached[pk] for pk in pipeline_ids}


def overdue_after(usual_seconds: float | None) -> timedelta:
    if usual_seconds is None:
        return OVERDUE_WITHOUT_HISTORY
    return max(OVERDUE_AT_LEAST, timedelta(seconds=OVERDUE_FACTOR * usual_seconds))


def overdue_counts(cuts: dict[int, datetime]) -> dict[int, int]:
    """How many active runs (NotResponding aside) of each pipeline were submitted at or before its moment.

    One count per pipeline, each a range of the (status, pipeline, created_at) index, joined by UNION ALL: an OR
    of the ranges makes SQLite scan the table, and a CASE for the moment compares every row with each. Written
    as SQL because building and compiling a queryset per pipeline costs more than the counting."""
    quote = connection.ops.quote_name
    table, status, pipeline, created = (
        quote(PipelineRun._meta.db_table),
        quote("status"),
        quote("pipeline_id"),
        quote("created_at"),
    )
    one = (
        f"SELECT {pipeline}, COUNT(*) FROM {table} WHERE {status} IN ({', '.join(['%s'] * len(OVERDUE_STATUSES))})"
        f" AND {pipeline} = %s AND {created} <= %s GROUP BY {pipeline}"
    )
    counts: dict[int, int] = {}
    items = list(cuts.items())
    for start in range(0, len(items), UNION_AT_MOST):
        chunk = items[start : start + UNION_AT_MOST]
        params: list = []
        for pk, cut in chunk:
            params += [*OVERDUE_STATUSES, pk, connection.ops.adapt_datetimefield_value(cut)]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join([one] * len(chunk)), params)
            counts.update(cursor.fetchall())
    return counts


@dataclass
class OverduePipeline:
    pipeline: PipelineRef
    count: int
    usual: timedelta | None
    after: timedelta  # submitted longer ago than this: overdue
    url: str


@dataclass
class Overdue:
    pipelines: list[OverduePipeline] = field(default_factory=list)  # most overdue runs first

    @property
    def shown(self) -> list[OverduePipeline]:
        return self.pipelines[:OVERDUE_SHOWN]

    @property
    def more(self) -> list[OverduePipeline]:
        return self.pipelines[OVERDUE_SHOWN:]

    @property
    def total(self) -> int:
        return sum(p.count for p in self.pipelines)


def overdue(now: datetime, active: ActiveRuns) -> Overdue:
    if not active.by_pipeline:
        return Overdue()
    usual = usual_times(sorted(active.by_pipeline))
    cuts = {pk: to_the_second(now - overdue_after(seconds)) for pk, seconds in usual.items()}
    counts = overdue_counts(cuts)
    found = []
    for pk, n in counts.items():
        seconds = usual[pk]
        found.append(
            OverduePipeline(
                pipeline=active.pipelines[pk],
                count=n,
                usual=None if seconds is None else timedelta(seconds=round(seconds)),
                after=overdue_after(seconds),
                url=runs_url(status=OVERDUE_STATUSES, pipeline=pk, created_before=moment_param(cuts[pk])),
            )
        )
    found.sort(key=lambda p: (-p.count, str(p.pipeline)))
    return Overdue(found)
