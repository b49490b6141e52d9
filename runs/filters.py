"""The runs list's filters and the queries behind them.

Every page is a keyset range of an index, walked in the index's order and cut at 51 rows, so its cost does not
depend on how deep the page is or how many runs there are:

- one filter on a column: that column's (column, -created_at, -id) index;
- several statuses: one range of the (status, -created_at, -id) index per status, merged here;
- a tag: the RunTag index (key[, value], -created_at, -run), then the 50 runs by id;
- sorting by duration: the (-duration_seconds, -id) index, other filters checked along it;
- text: a pasted run id is looked up in the (backend, external_id) index and listed wherever it is; other text
  (contained in display names, starting run ids) is searched ``SEARCH_WINDOW`` runs of the list at a time: a
  page that finds fewer than 50 there says so and offers to search further, so a rare word costs a window's
  scan, not the table's.

Nothing counts the table: a page knows only whether there is more.
"""

from __future__ import annotations

import dataclasses
import heapq
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import (
    BigIntegerField,
    CharField,
    DateTimeField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.lookups import Exact, GreaterThanOrEqual, In, LessThan, LessThanOrEqual

from backends.base import RunStatus
from dashboard.paging import EPOCH, KeyOrder, Position, Segment
from runs.models import PipelineRun, RunTag
from runs.runquery import (  # noqa: F401 (the names callers import from here)
    _NON_TERMINAL,
    BULK_CAP,
    DEFAULT_SORT,
    LIST_COLUMNS,
    PAGE_SIZE,
    PARAMS,
    PROBE,
    SEARCH_WINDOW,
    SORT_LABELS,
    SORTS,
    RunFilterForm,
    RunQuery,
    known_backends,
    list_runs,
    parse_run_query,
    pipeline_choices,
)

# --- the queries --------------------------------------------------------------------------------


def _column(name: str, output_field, *, hint_off: bool):
    """A column in a condition. With ``hint_off`` on SQLite, written ``+column`` so that SQLite, which keeps no
    statistics here, walks the index of the order instead of sorting every run the condition's index finds."""
    if hint_off and connection.vendor == "sqlite":
        return Func(F(name), template="+%(expressions)s", output_field=output_field)
    return F(name)


def _run_conditions(
    query: RunQuery, prefix: str = "", *, statuses: bool = True, tag: bool = True, walk: bool = False
) -> Q:
    """The filters as a condition on runs (``prefix`` "run__" when the rows are the runs' tags). ``walk``: the
    page walks the order's index, checking these along it."""
    char = CharField()
    q = Q()
    equal = [
        ("backend", query.backend),
        ("experiment_name", query.experiment),
        ("submitted_by", query.submitted_by),
    ]
    for name, value in equal:
        if value:
            q &= Q(Exact(_column(f"{prefix}{name}", char, hint_off=walk), value))
    if query.pipeline is not None:
        q &= Q(Exact(_column(f"{prefix}pipeline_id", BigIntegerField(), hint_off=walk), query.pipeline.pk))
    if statuses and query.statuses:
        q &= Q(In(_column(f"{prefix}status", char, hint_off=walk), list(query.statuses)))
    if tag and query.tag is not None:
        key, value = query.tag
        tags = RunTag.objects.filter(run=OuterRef("pk"), key=key)
        q &= Exists(tags.filter(value=value) if value is not None else tags)
    return q


def _created_range(query: RunQuery, field_name: str = "created_at", *, walk: bool = False) -> Q:
    column = _column(field_name, DateTimeField(), hint_off=walk)
    q = Q()
    if query.created_after:
        q &= Q(GreaterThanOrEqual(column, query.created_after))
    if query.created_before:
        lookup = LessThanOrEqual if query.before_inclusive else LessThan
        q &= Q(lookup(column, query.created_before))
    return q


def _text_q(query: RunQuery, prefix: str = "") -> Q:
    return Q(**{f"{prefix}display_name__icontains": query.text}) | Q(
        **{f"{prefix}external_id__startswith": query.text}
    )


@dataclass
class _Stream:
    """Rows in the page's order from one index range: runs, or tags pointing at runs."""

    rows: QuerySet
    field: str  # the order's column in ``rows``
    pk: str  # the run's id in ``rows``
    of_tags: bool = False
    # A text search: ``rows`` without the text condition, of which one page looks through SEARCH_WINDOW at most.
    window: QuerySet | None = None
    small: bool = False  # few rows (under PROBE): fetched whole and sorted here


def _exact_id_rows(query: RunQuery) -> QuerySet:
    """Runs whose id is the text, through the (backend, external_id) index: found wherever they are."""
    return list_runs().filter(
        _run_conditions(query),
        _created_range(query),
        backend__in=[query.backend] if query.backend else known_backends(),
        external_id=query.text,
    )


def _is_small(query: RunQuery) -> bool:
    """Whether the runs the filters (text aside) match are few: then sorting them beats walking an index.

    Counts, at most PROBE, through the index a filter has: the tag's, else the other filters' own."""
    if query.tag is not None:
        key, value = query.tag
        tags = RunTag.objects.filter(key=key)
        if (tags.filter(value=value) if value is not None else tags)[:PROBE].count() < PROBE:
            return True
    conditions = _run_conditions(query, tag=False) & _created_range(query)
    if not conditions:
        return False
    return PipelineRun.objects.filter(conditions)[:PROBE].count() < PROBE


def _small_set(query: RunQuery) -> QuerySet:
    """The runs the filters match, driven by the smallest index: the tag's rows when a tag is set."""
    rows = list_runs().filter(_run_conditions(query, tag=False), _created_range(query))
    if query.tag is not None:
        key, value = query.tag
        tags = RunTag.objects.filter(key=key)
        rows = rows.filter(pk__in=(tags.filter(value=value) if value is not None else tags).values("run_id"))
    return rows.filter(_text_q(query)) if query.text else rows


def _streams(query: RunQuery, *, exact_id: bool = False) -> list[_Stream]:
    order = query.order
    if exact_id:
        return [_Stream(_exact_id_rows(query), order.field, "pk")]
    by_created = order.field == "created_at"
    if not by_created:
        # No index has a filter's column and the duration: a few matching runs are sorted here; many are
        # found by walking the duration index, which meets a page of them soon.
        filtered = query.tag is not None or _run_conditions(query, tag=False) or _created_range(query)
        if filtered and _is_small(query):
            return [_Stream(_small_set(query), order.field, "pk", small=True)]
        rows = list_runs().filter(_run_conditions(query, walk=True), _created_range(query, walk=True))
        if query.text:
            return [_Stream(rows.filter(_text_q(query)), order.field, "pk", window=rows)]
        return [_Stream(rows, order.field, "pk")]
    active_only = bool(query.statuses) and not any(RunStatus.is_terminal(s) for s in query.statuses)
    if query.tag is not None and not active_only:
        key, value = query.tag
        tags = RunTag.objects.filter(key=key)
        if value is not None:
            tags = tags.filter(value=value)
        drivers = [
            (tags.filter(_run_conditions(query, "run__", tag=False), _created_range(query)), "run_id", True)
        ]
    elif len(query.statuses) > 1:
        # One index range per status, merged: an IN over the status index would sort every match.
        base = list_runs().filter(_run_conditions(query, statuses=False), _created_range(query))
        drivers = [(base.filter(status=status), "pk", False) for status in query.statuses]
    else:
        drivers = [(list_runs().filter(_run_conditions(query), _created_range(query)), "pk", False)]
    streams = []
    for rows, pk, of_tags in drivers:
        if query.text:
            text = _text_q(query, "run__" if of_tags else "")
            streams.append(
                _Stream(rows.filter(text), "created_at" if of_tags else order.field, pk, of_tags, rows)
            )
        else:
            streams.append(_Stream(rows, "created_at" if of_tags else order.field, pk, of_tags))
    return streams


@dataclass(order=True)
class _Entry:
    key: tuple
    position: Position = field(compare=False)
    run: PipelineRun | None = field(compare=False, default=None)


def _fetch(
    stream: _Stream, order: KeyOrder, segment: Segment, limit: int
) -> tuple[list[_Entry], _Entry | None]:
    """Up to ``limit`` rows of the stream in ``segment``, and the entry up to which they are complete (None:
    to the segment's end)."""
    seg_q = order.segment_q(segment, stream.field, stream.pk)
    ordering = order.order_by(stream.field, stream.pk)
    rows = stream.rows.filter(seg_q)
    if stream.small:
        # Every row of the segment has a value, or none has: a plain key sorts them (numbers: durations).
        sign = -1 if order.descending else 1
        key = (lambda r: sign * r[1]) if segment.nulls else (lambda r: (sign * r[0], sign * r[1]))
        best = heapq.nsmallest(limit, rows.values_list(stream.field, stream.pk), key=key)
        found = [_Entry(order.key_of(v, pk), Position(v, pk)) for v, pk in best]
        return found, (found[-1] if len(found) == limit else None)
    end = None
    if stream.window is not None:
        last = list(
            stream.window.filter(seg_q)
            .order_by(*ordering)
            .values_list(stream.field, stream.pk)[SEARCH_WINDOW - 1 : SEARCH_WINDOW]
        )
        if last:
            end = Position(*last[0])
            rows = rows.filter(order.through_q(end, stream.field, stream.pk))
    rows = rows.order_by(*ordering)
    if stream.of_tags:
        positions = [Position(v, pk) for v, pk in rows.values_list(stream.field, stream.pk)[:limit]]
        found = [_Entry(order.sort_key(p), p) for p in positions]
    else:
        found = []
        for run in rows[:limit]:
            position = order.position(run)
            found.append(_Entry(order.sort_key(position), position, run))
    if len(found) == limit:
        return found, found[-1]
    if end is not None:
        return found, _Entry(order.sort_key(end), end)
    return found, None


def _segment_entries(
    streams: list[_Stream], order: KeyOrder, segment: Segment, limit: int
) -> tuple[list[_Entry], _Entry | None]:
    """Up to ``limit`` rows of one segment merged from every stream, and how far they are complete."""
    fetched = [_fetch(stream, order, segment, limit) for stream in streams]
    frontiers = [frontier for _, frontier in fetched if frontier is not None]
    frontier = min(frontiers) if frontiers else None
    entries, seen = [], set()
    for entry in heapq.merge(*(found for found, _ in fetched)):
        if entry.position.pk in seen or (frontier is not None and entry > frontier):
            continue
        seen.add(entry.position.pk)
        entries.append(entry)
    return entries, frontier


@dataclass
class RunPage:
    runs: list[PipelineRun]
    next_cursor: str  # "" on the last page
    # A text search reached the end of its window with fewer than a page of matches: there may be more.
    window_cut: bool = False


def run_page(query: RunQuery, *, size: int = PAGE_SIZE) -> RunPage:
    """One page of the list ``query`` names. An invalid query lists nothing."""
    if not query.valid:
        return RunPage([], "")
    order = query.order
    # A pasted run id lists that run, wherever it is; other text is searched window by window.
    streams = _streams(query, exact_id=bool(query.text) and _exact_id_rows(query).exists())
    entries: list[_Entry] = []
    cut_at = None
    for segment in order.segments(query.after):
        got, frontier = _segment_entries(streams, order, segment, size + 1 - len(entries))
        entries += got
        if len(entries) > size:
            break
        if frontier is not None:  # a search window ended before a page was found
            cut_at = frontier
            break
    more = len(entries) > size
    entries = entries[:size]
    missing = [e.position.pk for e in entries if e.run is None]
    loaded = list_runs().in_bulk(missing) if missing else {}
    for e in entries:
        e.run = e.run or loaded.get(e.position.pk)
    runs = [e.run for e in entries if e.run is not None]
    if more:
        next_cursor = order.cursor(entries[-1].position)
    elif cut_at is not None:
        next_cursor = order.cursor(cut_at.position)
    else:
        next_cursor = ""
    return RunPage(runs, next_cursor, window_cut=not more and cut_at is not None)


def matching_runs(query: RunQuery, *, cap: int = BULK_CAP) -> tuple[list[PipelineRun], bool]:
    """The first ``cap`` runs of the list, in its order, and whether there are more."""
    found: list[PipelineRun] = []
    walk = dataclasses.replace(query, after=None)
    while len(found) < cap:
        page = run_page(walk, size=min(500, cap - len(found)))
        found += page.runs
        if not page.next_cursor:
            return found, False
        walk.after = walk.order.parse(page.next_cursor)
    return found, True


def new_runs(query: RunQuery, after_id: int, upto: int, *, cap: int = PAGE_SIZE) -> list[PipelineRun]:
    """Runs matching the filters mirrored after ``after_id`` and up to ``upto`` (ids), newest first, at most
    ``cap`` + 1: a range of the primary key, however selective the filters."""
    conditions = _run_conditions(query, walk=True) & _created_range(query, walk=True)
    rows = list_runs().filter(conditions, pk__gt=after_id, pk__lte=upto)
    if query.text:
        rows = rows.filter(_text_q(query))
    found = list(rows.order_by("-pk")[: cap + 1])
    found.sort(key=lambda r: (r.created_at is not None, r.created_at or EPOCH, r.pk), reverse=True)
    return found
