"""Time the runs list, the run page and the log page against a seeded database (bench/seed.py).

    .venv/bin/python bench/run.py --database-url postgres://postgres@127.0.0.1:5432/runboard_bench

Every request goes through the whole Django stack in this process (django.test.Client, a logged-in superuser,
persistent database connection, DEBUG off), so a time is the server's time without the network. Each request is
warmed up, then repeated; the table shows p50 and p95 against the target of issue 5. Peak memory of the log
download and search is measured in separate passes (tracemalloc's peak, and the growth of the process's peak RSS).

The requests are one table, REQUESTS, below: adjust a path there when a page's URL or query changes.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BENCH_USER,
    BIG_RUN_EXTERNAL_ID,
    DEFAULT_WORK_DIR,
    LOG_NODE_ID,
    LOG_RUN_ID,
    RARE_WORD,
    configure,
    database_size,
    describe_database,
    human_bytes,
)

DEEP = 20_000  # rows before the "deep page"


@dataclass
class Ctx:
    """What the path builders need, found once in the seeded database."""

    runs: int = 0
    big_run: int = 0  # PipelineRun.pk of the 1,000-step run
    log_run: int = 0  # PipelineRun.pk of the run whose step has the 1 GB stdout
    log_size: int = 0
    pipeline: int = 0  # a pipeline with a typical number of runs
    deep_cursor: str = ""  # the runs list's cursor after DEEP rows
    extra: dict = field(default_factory=dict)  # texts the responses are checked for (Req.expect, Req.absent)
    client: Any = None

    def poll_url(self, page: str, pattern: str, **headers) -> str | None:
        """The URL the page at ``page`` tells the browser to poll (its hx-get that starts with ``pattern``),
        read when the request is timed: a poll URL may name a layout or a cursor the page just made."""
        response = self.client.get(page, **headers)
        if response.status_code != 200:
            return None
        found = re.search(rf'hx-get="({re.escape(pattern)}[^"]*)"', response.content.decode(errors="replace"))
        return html.unescape(found.group(1)) if found else None


def q(path: str, **params) -> str:
    return f"{path}?{urlencode(params, doseq=True)}" if params else path


def log_url(c: Ctx, suffix: str = "", **params) -> str:
    return q(f"/runs/{c.log_run}/steps/{LOG_NODE_ID}/logs/stdout/{suffix}", **params)


@dataclass
class Req:
    name: str
    path: Callable[[Ctx], str | None]  # None: this page does not exist yet
    target_ms: float | None = None
    htmx: str | None = None  # the hx-target the browser sends, for a fragment
    repeat: int | None = None  # at most this many timed requests (default: --repeat)
    memory_mb: float | None = None  # also measure peak memory, against this target
    # Checks that the page answered what was asked (a filter the view ignores would time the wrong thing):
    # names of Ctx.extra entries whose text must appear in the response, and ones that must not.
    expect: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    whole_log: bool = False  # the response must be the whole log file (the download)
    # A cold request: time only one, after this resets what the page keeps (a cached layout, a line index).
    reset: Callable[[Ctx], None] | None = None
    status: int | None = None  # the expected HTTP status, when it is not 200 or 286
    method: str = "GET"


# --- the timed requests: adjust paths and queries here ------------------------------------------------
# Issue 5's targets: list full page p50 ≤ 20 ms and rows fragment ≤ 10 ms at any depth and with any single
# filter; a tag filter matching 20% ≤ 100 ms; run detail with 1,000 steps ≤ 100 ms; live endpoints ≤ 5 ms;
# 1 GB log first screen ≤ 50 ms, search ≤ 3 s, memory ≤ 100 MB.
ROWS = "run-table"  # the hx-target of the runs list's rows fragment (filters, pager)
LIST = "/runs/"
BIG = "/runs/{c.big_run}/"
GRAPH = "/runs/{c.big_run}/graph/status"
# fmt: off
REQUESTS: list[Req] = [
    # name, path builder, target ms, and how to check the answer
    Req("baseline: session, user, middleware (a 404)", lambda c: "/bench-no-such-page/", None, status=404),
    Req("list: first page", lambda c: LIST, 20, expect=("newest",)),
    Req("list: first page, rows fragment", lambda c: LIST, 10, htmx=ROWS, expect=("newest",)),
    Req("list: deep page (cursor after 20,000)", lambda c: q(LIST, cursor=c.deep_cursor), 20,
        expect=("deep_first",), absent=("newest",)),
    Req("list: deep page, rows fragment", lambda c: q(LIST, cursor=c.deep_cursor), 10, htmx=ROWS,
        expect=("deep_first",), absent=("newest",)),
    Req("list: status=Failed + pipeline", lambda c: q(LIST, status="Failed", pipeline=c.pipeline), 20,
        expect=("failed_in_pipeline",), absent=("not_failed_in_pipeline",)),
    Req("list: status=Failed + pipeline, rows", lambda c: q(LIST, status="Failed", pipeline=c.pipeline), 10,
        htmx=ROWS, expect=("failed_in_pipeline",), absent=("not_failed_in_pipeline",)),
    Req("list: status=Failed,Canceled", lambda c: q(LIST, status=["Failed", "Canceled"]), 20,
        expect=("failed_or_canceled",), absent=("not_failed_or_canceled",)),
    Req("list: status=Failed,Canceled, rows", lambda c: q(LIST, status=["Failed", "Canceled"]), 10,
        htmx=ROWS, expect=("failed_or_canceled",), absent=("not_failed_or_canceled",)),
    Req("list: tag priority=high (20%)", lambda c: q(LIST, tag="priority=high"), 100,
        expect=("priority_high",), absent=("not_priority_high",)),
    Req("list: tag priority=high, rows", lambda c: q(LIST, tag="priority=high"), 100, htmx=ROWS,
        expect=("priority_high",), absent=("not_priority_high",)),
    Req("list: text 'sweep' (~5% of names)", lambda c: q(LIST, q="sweep"), 20,
        expect=("sweep",), absent=("not_sweep",)),
    Req("list: text 'sweep', rows", lambda c: q(LIST, q="sweep"), 10, htmx=ROWS,
        expect=("sweep",), absent=("not_sweep",)),
    Req("list: text, one run's id", lambda c: q(LIST, q=c.extra["rare_run"]), 20,
        expect=("rare_run",), absent=("newest",)),
    Req("list: sort by duration, longest first", lambda c: q(LIST, sort="-duration"), 20,
        expect=("longest",), absent=("newest",)),
    Req("list: sort by duration, rows", lambda c: q(LIST, sort="-duration"), 10, htmx=ROWS,
        expect=("longest",), absent=("newest",)),
    Req("list: live changes (first page's poll)", lambda c: c.poll_url(LIST, "/runs/changes"), 5),
    Req("run: 1,000 steps, cold (layout not cached)", lambda c: BIG.format(c=c), 100,
        reset=lambda c: forget_layout(c.big_run), expect=("big_failed_node",)),
    Req("run: 1,000 steps with graph", lambda c: BIG.format(c=c), 100, repeat=15, expect=("big_failed_node",)),
    Req("run: 1,000 steps, all expanded, cold", lambda c: q(BIG.format(c=c), expand="all"), 100,
        reset=lambda c: forget_layout(c.big_run)),
    Req("run: 1,000 steps, all expanded", lambda c: q(BIG.format(c=c), expand="all"), 100, repeat=15),
    Req("run: 1,000 steps, failed path only", lambda c: q(BIG.format(c=c), view="failed"), 100, repeat=15),
    Req("run: graph status poll, nothing changed", lambda c: c.poll_url(BIG.format(c=c), GRAPH.format(c=c)), 5,
        status=204),
    Req("run: graph status poll, statuses changed",
        lambda c: re.sub(r"&?seen=[^&]*", "", c.poll_url(BIG.format(c=c), GRAPH.format(c=c)) or "") or None, 5,
        expect=("graph_status",)),
    Req("run: live region (steps, timeline)", lambda c: BIG.format(c=c), 5, htmx="run-live"),
    Req("log: first screen, cold (no line index yet)", lambda c: log_url(c), 50,
        reset=lambda c: forget_log_index(), expect=("log_last_line",)),
    Req("log: first screen (tail of 1 GB)", lambda c: log_url(c), 50, expect=("log_last_line",)),
    Req("log: earlier window from the middle", lambda c: log_url(c, before=c.log_size // 2), 50, htmx="log"),
    Req("log: page at a line in the middle", lambda c: log_url(c, line=c.extra.get("log_mid_line", 1)), 50),
    Req("log: live tail poll", lambda c: log_url(c, offset=c.log_size), 5, htmx="log-tail"),
    Req(f"log: search '{RARE_WORD}'", lambda c: log_url(c, q=RARE_WORD), 3000, repeat=5, memory_mb=100,
        expect=("rare_word",)),
    # Issue 11: the overview at p50 ≤ 20 ms, its own poll too; cold: the pipelines' usual times not cached yet.
    Req("overview (/)", lambda c: "/", 20, expect=("overview", "overview_failure"),
        absent=("overview_old_failure",)),
    Req("overview: its own poll (fragment)", lambda c: "/", 20, htmx="overview",
        expect=("overview", "overview_failure"), absent=("overview_old_failure",)),
    Req("overview, cold (usual times not cached)", lambda c: "/", 20, reset=lambda c: forget_usual_times(),
        expect=("overview",)),
    # not in issue 5's list: no target, for information
    Req("pipelines page (50 pipelines)", lambda c: "/pipelines/", None),
    Req("pipeline page (its runs)", lambda c: f"/pipelines/{c.pipeline}/", None),
    Req("log: download (1 GB)", lambda c: log_url(c, "download"), None, memory_mb=100, whole_log=True),
]
# fmt: on


def forget_layout(run_pk: int) -> None:
    from django.core.cache import cache

    from runs.models import PipelineRun

    PipelineRun.objects.filter(pk=run_pk).update(graph_layout=None)
    cache.clear()


def forget_usual_times() -> None:
    from django.core.cache import cache

    from dashboard.overview_runs import USUAL_CACHE_KEY

    cache.delete(USUAL_CACHE_KEY)


def forget_log_index() -> None:
    from django.conf import settings

    from runs import lineindex

    folder = lineindex.index_dir()
    if Path(settings.VAR_DIR) in folder.parents:  # only ever under the bench's own var dir
        shutil.rmtree(folder, ignore_errors=True)


def find_context(client, deep: int) -> Ctx:
    from datetime import timedelta

    from django.db.models import Count, Q
    from django.utils import timezone

    from backends.registry import get_backend
    from runs.models import PipelineRun, StepRun

    def first(rows) -> str:
        return rows.newest_first().values_list("external_id", flat=True).first() or ""

    c = Ctx(client=client)
    x = c.extra
    runs = PipelineRun.objects.all()
    c.runs = runs.order_by("-pk").values_list("pk", flat=True).first() or 0
    big = runs.filter(external_id=BIG_RUN_EXTERNAL_ID).first()
    if big:
        c.big_run = big.pk
        x["big_failed_node"] = (
            StepRun.objects.filter(run=big, status="Failed").values_list("node_id", flat=True).first() or ""
        )
    log_run = runs.filter(backend="local", external_id=LOG_RUN_ID).first()
    if log_run:
        c.log_run = log_run.pk
        step = log_run.steps.get(node_id=LOG_NODE_ID)
        backend = get_backend("local")
        c.log_size = backend.read_log(LOG_RUN_ID, step.external_id, "stdout", 0, 0).size
        tail = backend.read_log(LOG_RUN_ID, step.external_id, "stdout", max(0, c.log_size - 4096), 4096).data
        lines = tail.rstrip(b"\n").rsplit(b"\n", 1)
        # the last line's last words, without its ANSI codes: the first screen shows the end of the log
        x["log_last_line"] = lines[-1].decode(errors="replace").rsplit("\x1b[0m", 1)[-1][-30:].strip()
        # a line in the middle, for ?line=N (counted here through the backend, a piece at a time)
        newlines, pos = 0, 0
        while pos < c.log_size // 2:
            data = backend.read_log(
                LOG_RUN_ID, step.external_id, "stdout", pos, min(8 << 20, c.log_size // 2 - pos)
            )
            newlines += data.data.count(b"\n")
            pos += len(data.data)
        x["log_mid_line"] = newlines + 1
    x["rare_word"] = RARE_WORD
    # a pipeline in the middle of the popularity ranking
    counts = list(runs.values("pipeline").annotate(n=Count("id")).order_by("-n").values_list("pipeline", "n"))
    if counts:
        c.pipeline, x["pipeline_runs"] = counts[len(counts) // 2]
    newest = runs.newest_first()
    x["newest"] = first(runs)
    row = newest[deep - 1 : deep].first() if c.runs > deep else None
    if row:
        c.deep_cursor = cursor_after(row)
        x["deep_first"] = newest[deep : deep + 1].values_list("external_id", flat=True).first() or ""
    x["rare_run"] = newest[deep // 2 : deep // 2 + 1].values_list("external_id", flat=True).first() or ""
    failed_in_pipeline = Q(status="Failed", pipeline=c.pipeline)
    x["failed_in_pipeline"] = first(runs.filter(failed_in_pipeline))
    x["not_failed_in_pipeline"] = first(runs.exclude(failed_in_pipeline))
    x["failed_or_canceled"] = first(runs.filter(status__in=["Failed", "Canceled"]))
    x["not_failed_or_canceled"] = first(runs.exclude(status__in=["Failed", "Canceled"]))
    x["canceled"] = first(runs.filter(status="Canceled"))
    x["not_canceled"] = first(runs.exclude(status="Canceled"))
    high = Q(tag_rows__key="priority", tag_rows__value="high")
    x["priority_high"] = first(runs.filter(high))
    x["not_priority_high"] = first(runs.exclude(pk__in=runs.filter(high).values("pk")))
    x["sweep"] = first(runs.filter(display_name__icontains="sweep"))
    x["not_sweep"] = first(runs.exclude(display_name__icontains="sweep"))
    x["longest"] = (
        runs.filter(duration_seconds__isnull=False)
        .order_by("-duration_seconds", "-id")
        .values_list("external_id", flat=True)
        .first()
    )
    x["graph_status"] = 'id="graph-status"'
    # The overview lists the newest failures of the last 24 hours, and none older.
    since = timezone.now() - timedelta(hours=24)
    x["overview"] = 'id="tile-active"'
    x["overview_failure"] = first(runs.filter(status="Failed", created_at__gte=since))
    x["overview_old_failure"] = first(runs.filter(status="Failed", created_at__lt=since))
    return c


def cursor_after(row) -> str:
    """The runs list's cursor for the page that starts after ``row`` (newest first)."""
    from dashboard.paging import Position
    from runs.filters import SORTS

    return SORTS["-created"].cursor(Position(row.created_at, row.pk))


# --- measuring ----------------------------------------------------------------------------------------


def peak_rss_reset() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux)
        return True
    except OSError:
        return False


def proc_status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def consume(response) -> int:
    if response.streaming:
        n = 0
        for block in response.streaming_content:
            n += len(block)
        response.close()
        return n
    return len(response.content)


@dataclass
class Result:
    name: str
    status: str = ""
    p50: float | None = None
    p95: float | None = None
    best: float | None = None
    # p50 of this process's CPU time: all of the work on SQLite, Django's part of it on PostgreSQL
    cpu: float | None = None
    target: float | None = None
    n: int = 0
    queries: int | None = None
    size: int = 0
    mem_peak: int | None = None  # tracemalloc
    rss_growth: int | None = None
    mem_target: float | None = None
    note: str = ""

    def verdict(self) -> str:
        if self.note and self.p50 is None:
            return self.note
        parts = []
        if self.target is not None and self.p50 is not None:
            parts.append(
                "ok" if self.p50 <= self.target else f"missed by {100 * (self.p50 / self.target - 1):.0f}%"
            )
        if self.mem_target is not None and self.rss_growth is not None:
            worst = max(self.rss_growth, self.mem_peak or 0) / 2**20
            parts.append(
                "memory ok"
                if worst <= self.mem_target
                else f"memory missed by {100 * (worst / self.mem_target - 1):.0f}%"
            )
        if self.note:
            parts.append(self.note)
        return "; ".join(parts) or "-"


def request(client, req: Req, path: str):
    headers = {}
    if req.htmx:
        headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": req.htmx}
    return client.generic(req.method, path, **headers)


def body_head(response, limit: int = 4 << 20) -> bytes:
    """The body, or its first few MB when it streams (enough to check it; the download is not read twice)."""
    if not response.streaming:
        return response.content
    head = b""
    for block in response.streaming_content:
        head += block
        if len(head) >= limit:
            break
    response.close()
    return head


def add_note(res: Result, note: str) -> None:
    res.note = f"{res.note}; {note}" if res.note else note


def measure(client, req: Req, ctx: Ctx, repeat: int, warmup: int) -> Result:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    res = Result(req.name, target=req.target_ms, mem_target=req.memory_mb)
    path = req.path(ctx)
    if path is None:
        res.note = "not built yet"
        return res
    first = request(client, req, path)
    res.status = str(first.status_code)
    head = body_head(first)
    if first.status_code == 404 and req.status != 404:
        res.note = "404: not built yet"
        return res
    if first.status_code != req.status and (first.status_code >= 300):
        res.note = f"HTTP {first.status_code}"
        return res
    if first.has_header("HX-Refresh"):
        add_note(res, "WRONG: answered HX-Refresh (redraw the page)")
    if req.status and first.status_code != req.status:
        add_note(res, f"WRONG: HTTP {first.status_code}, expected {req.status}")
    text = head.decode(errors="replace")

    def shown(k: str) -> bool:  # as text, or as the HTML that shows it
        return ctx.extra[k] in text or html.escape(ctx.extra[k]) in text

    lacks = [ctx.extra[k] for k in req.expect if ctx.extra.get(k) and not shown(k)]
    has = [ctx.extra[k] for k in req.absent if ctx.extra.get(k) and shown(k)]
    if lacks:
        add_note(res, f"WRONG: lacks {', '.join(map(repr, lacks))}")
    if has:
        add_note(res, f"WRONG: has {', '.join(map(repr, has))}")
    if req.reset is not None:
        req.reset(ctx)
        t = time.perf_counter()
        res.size = consume(request(client, req, path))
        res.p50 = res.p95 = (time.perf_counter() - t) * 1000
        res.n = 1
        return res
    if req.target_ms is not None or req.memory_mb is None:
        n = repeat if req.repeat is None else min(req.repeat, repeat)
        for _ in range(warmup if req.repeat is None else 1):
            consume(request(client, req, path))
        times, cpu = [], []
        for _ in range(n):
            t, c = time.perf_counter(), time.process_time()
            res.size = consume(request(client, req, path))
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        res.n = n
        res.p50 = statistics.median(times)
        res.p95 = sorted(times)[max(0, round(0.95 * len(times)) - 1)]
        res.best = min(times)
        res.cpu = statistics.median(cpu)
        with CaptureQueriesContext(connection) as queries:
            consume(request(client, req, path))
        res.queries = len(queries)
    if req.memory_mb is not None:
        # A pass of its own: tracemalloc slows Python down, so it is never on while timing.
        rss_before = proc_status("VmRSS")
        peak_rss_reset()
        tracemalloc.start()
        t = time.perf_counter()
        res.size = consume(request(client, req, path))
        elapsed = (time.perf_counter() - t) * 1000
        res.mem_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        res.rss_growth = max(0, proc_status("VmHWM") - rss_before)
        if res.p50 is None:
            res.p50 = res.p95 = elapsed
            res.n = 1
            add_note(res, f"{res.size / 2**20 / (elapsed / 1000):.0f} MB/s")
    if req.whole_log and res.size != ctx.log_size:
        add_note(res, f"WRONG: {human_bytes(res.size)} sent, the log is {human_bytes(ctx.log_size)}")
    return res


def explain(client, req: Req, ctx: Ctx) -> None:
    """Print each query the request makes, with its plan on this database."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    path = req.path(ctx)
    print(f"\n=== {req.name}: {path}")
    with CaptureQueriesContext(connection) as captured:
        consume(request(client, req, path))
    for query in captured.captured_queries:
        sql = query["sql"]
        print(f"\n-- {query['time']} s\n{sql}")
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cur:
            if connection.vendor == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + sql)
                for row in cur.fetchall():
                    print("   ", row[-1])
            else:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                for (line,) in cur.fetchall():
                    print("   ", line)


def profile(client, req: Req, ctx: Ctx, repeat: int) -> None:
    """Print where the time of ``repeat`` requests goes (cProfile, by cumulative time)."""
    import cProfile
    import pstats

    path = req.path(ctx)
    print(f"\n=== {req.name}: {path}")
    for _ in range(3):
        consume(request(client, req, path))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        consume(request(client, req, path))
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)


def machine() -> str:
    import platform

    mem = proc_meminfo = ""
    try:
        proc_meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()
        mem = f"{int(proc_meminfo[1]) / 2**20:.0f} GB RAM"
    except (OSError, IndexError, ValueError):
        pass
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    return f"{os.cpu_count()} CPUs ({cpu}), {mem}, Python {platform.python_version()}, {describe_database()}; {load}"


def print_table(results: list[Result], markdown: bool) -> None:
    head = [
        "request",
        "p50 ms",
        "p95 ms",
        "min ms",
        "cpu ms",
        "target ms",
        "verdict",
        "n",
        "queries",
        "HTTP",
        "size",
        "peak memory",
    ]
    rows = []
    for r in results:
        mem = ""
        if r.mem_peak is not None:
            mem = f"{human_bytes(r.mem_peak)} heap, +{human_bytes(r.rss_growth or 0)} RSS"
        rows.append(
            [
                r.name,
                "" if r.p50 is None else f"{r.p50:.1f}",
                "" if r.p95 is None else f"{r.p95:.1f}",
                "" if r.best is None else f"{r.best:.1f}",
                "" if r.cpu is None else f"{r.cpu:.1f}",
                "" if r.target is None else f"{r.target:g}",
                r.verdict(),
                str(r.n or ""),
                "" if r.queries is None else str(r.queries),
                r.status,
                human_bytes(r.size) if r.size else "",
                mem,
            ]
        )
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for row in rows:
            print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        return
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="default: $BENCH_DATABASE_URL, else SQLite in the work dir")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="default: %(default)s")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--only", action="append", default=[], help="requests whose name contains this")
    parser.add_argument("--explain", action="append", default=[], help="print queries and plans of these")
    parser.add_argument("--profile", action="append", default=[], help="print a cProfile of these")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations first")
    args = parser.parse_args(argv)
    configure(args.database_url, args.work_dir)

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    if not args.no_migrate:
        t = time.monotonic()
        call_command("migrate", verbosity=0, interactive=False)
        if time.monotonic() - t > 5:
            print(f"(applied migrations: {time.monotonic() - t:.0f} s)")
    user, _ = get_user_model().objects.get_or_create(
        username=BENCH_USER, defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")

    t = time.monotonic()
    ctx = find_context(client, DEEP)
    if not ctx.runs:
        sys.exit("no runs: seed first with bench/seed.py")
    print(machine())
    print(
        f"{ctx.runs:,} runs, database {human_bytes(database_size())}; pipeline {ctx.pipeline} has "
        f"{ctx.extra.get('pipeline_runs', 0):,} runs; log {human_bytes(ctx.log_size)}; context {time.monotonic() - t:.1f} s\n"
    )
    chosen = [r for r in REQUESTS if not args.only or any(o in r.name for o in args.only)]
    for r in REQUESTS:
        if any(e in r.name for e in args.explain):
            explain(client, r, ctx)
    for r in REQUESTS:
        if any(p in r.name for p in args.profile):
            profile(client, r, ctx, min(args.repeat, r.repeat or args.repeat))
    if (args.explain or args.profile) and not args.only:
        return
    results = []
    for req in chosen:
        res = measure(client, req, ctx, args.repeat, args.warmup)
        results.append(res)
        p50 = "" if res.p50 is None else f"p50 {res.p50:.1f} ms"
        print(f"  {req.name}: {p50} {res.verdict()}", file=sys.stderr, flush=True)
    print()
    print_table(results, args.markdown)
    out = Path(args.work_dir) / f"results-{connection.vendor}.json"
    out.write_text(json.dumps([r.__dict__ for r in results], indent=1))
    print(f"\n(results also in {out})")


if __name__ == "__main__":
    main()
