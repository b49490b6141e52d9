"""Prometheus metrics at `/metrics`.

What the mirror and the audit trail hold is read from the database when Prometheus scrapes (``MirrorCollector``),
so every web process answers the same, whatever process did the work: runs by backend and status, steps under
way, the action queue and its outcomes, each backend's sync passes and lag (recorded in BackendState by
runs/sync.py), schedule fires. Counts that grow with history (finished runs, finished actions, fires) are
recounted at most every RUNBOARD_METRICS_CACHE seconds in a process; the rest is a few indexed queries over
rows that are under way, so a scrape costs the same at a million runs as at ten.

Request latency is a histogram kept by each web process. Under gunicorn with several workers, set
PROMETHEUS_MULTIPROC_DIR (an empty folder, emptied at each start: `manage.py serve` and deploy/ do) and each
scrape reports the sum over the workers.

Who may scrape: with RUNBOARD_METRICS_TOKEN set, a client sending `Authorization: Bearer <token>`; without it,
only a client on this machine.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.multiprocess import MultiProcessCollector

from backends import registry as backend_registry
from backends.base import RunStatus
from dashboard.models import Action, BackendState
from dashboard.security import client_ip
from runs.models import PipelineRun, StepRun
from schedules.models import ScheduleFire

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNRESOLVED = "unresolved"  # a 404 for a path no URL pattern matches: one label, not one per path

REQUEST_LATENCY = Histogram(
    "runboard_request_duration_seconds",
    "Time the web server took to answer a request, by view, method and status class.",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=None,  # registered per scrape, in metrics(): none of prometheus_client's global state
)


class RequestMetricsMiddleware:
    """Times every request, refused ones included; labels are bounded (view names, not paths)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else UNRESOLVED
        method = request.method if request.method in METHODS else "other"
        status = f"{response.status_code // 100}xx"
        REQUEST_LATENCY.labels(view, method, status).observe(time.perf_counter() - started)
        return response


# --- counts over history, recounted at most every RUNBOARD_METRICS_CACHE seconds ---------------

_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def cached(key: str, compute: Callable[[], Any]) -> Any:
    """``compute()``, or what it gave less than RUNBOARD_METRICS_CACHE seconds ago in this process."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < settings.METRICS_CACHE_SECONDS:
            return hit[1]
    value = compute()
    with _cache_lock:
        _cache[key] = (now, value)
    return value


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _finished_runs() -> list[tuple[str, str, int]]:
    # Index-only range scans of run_status_backend: no table rows are read.
    rows = (
        PipelineRun.objects.filter(status__in=RunStatus.TERMINAL)
        .values_list("backend", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    return list(rows)


def _action_outcomes() -> list[tuple[str, int]]:
    rows = Action.objects.values_list("status").annotate(n=Count("*")).order_by()
    return list(rows)


def _schedule_fires() -> list[tuple[str, int]]:
    rows = ScheduleFire.objects.values_list("status").annotate(n=Count("*")).order_by()
    return list(rows)


# --- what the database holds, read at scrape time ----------------------------------------------


class MirrorCollector:
    """Gauges and counters derived from the database when Prometheus scrapes."""

    def describe(self) -> list[Metric]:
        return []  # names are not checked up front: registering it must not run its queries

    def collect(self) -> Iterator[Metric]:
        yield from self.runs()
        yield from self.steps()
        yield from self.actions()
        yield from self.backends()
        yield from self.schedules()

    def runs(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily(
            "runboard_runs",
            "Mirrored pipeline runs by backend and status (finished ones recounted every "
            "RUNBOARD_METRICS_CACHE seconds).",
            labels=["backend", "status"],
        )
        # status IN (...), not NOT IN: range scans of run_status_backend over the runs under way only.
        active = (
            PipelineRun.objects.filter(status__in=RunStatus.ACTIVE)
            .values_list("backend", "status")
            .annotate(n=Count("*"))
            .order_by()
        )
        for backend, status, count in sorted([*active, *cached("finished_runs", _finished_runs)]):
            runs.add_metric([backend, status], count)
        yield runs

    def steps(self) -> Iterator[Metric]:
        steps = GaugeMetricFamily(
            "runboard_steps_active",
            "Steps under way (Running, Queued, Preparing...), by status.",
            labels=["status"],
        )
        # Range scans of the step_status index, over the steps under way only: there are ten steps to a run,
        # and reading each one's run for its backend would cost a lookup per step.
        rows = (
            StepRun.objects.filter(status__in=RunStatus.ACTIVE).values_list("status").annotate(n=Count("*"))
        )
        for status, count in sorted(rows.order_by()):
            steps.add_metric([status], count)
        yield steps

    def actions(self) -> Iterator[Metric]:
        pending = Action.objects.filter(status=Action.Status.PENDING).count()
        yield GaugeMetricFamily(
            "runboard_action_queue_depth", "Actions waiting to be carried out (pending).", value=pending
        )
        actions = GaugeMetricFamily(
            "runboard_actions",
            "Actions in the audit trail by status: pending, running, succeeded, failed.",
            labels=["status"],
        )
        counts = dict(cached("action_outcomes", _action_outcomes))
        counts[Action.Status.PENDING] = pending  # the fresh count
        for status in Action.Status.values:
            actions.add_metric([status], counts.get(status, 0))
        yield actions

    def backends(self) -> Iterator[Metric]:
        names = backend_registry.names()
        states = {s.name: s for s in BackendState.objects.filter(name__in=names)}
        now = timezone.now()
        passes = SummaryMetricFamily(
            "runboard_sync_duration_seconds",
            "Sync passes of each backend (count) and the time they took (sum), failed ones included.",
            labels=["backend"],
        )
        failures = CounterMetricFamily(
            "runboard_sync_failures", "Sync passes that failed, by backend.", labels=["backend"]
        )
        last = GaugeMetricFamily(
            "runboard_sync_last_duration_seconds", "How long the latest sync pass took.", labels=["backend"]
        )
        lag = GaugeMetricFamily(
            "runboard_sync_lag_seconds",
            "Seconds since the backend's last successful sync (absent until it has synced once).",
            labels=["backend"],
        )
        healthy = GaugeMetricFamily(
            "runboard_backend_healthy",
            "1 when the backend's last sync succeeded, else 0.",
            labels=["backend"],
        )
        for name in names:
            state = states.get(name)
            if state is None:
                continue
            passes.add_metric([name], count_value=state.sync_passes, sum_value=state.sync_seconds_total)
            failures.add_metric([name], state.sync_failures)
            if state.last_sync_seconds is not None:
                last.add_metric([name], state.last_sync_seconds)
            if state.last_success_at is not None:
                lag.add_metric([name], max(0.0, (now - state.last_success_at).total_seconds()))
            healthy.add_metric([name], 1 if state.healthy else 0)
        yield from (passes, failures, last, lag, healthy)

    def schedules(self) -> Iterator[Metric]:
        fires = CounterMetricFamily(
            "runboard_schedule_fires",
            "Schedule slots recorded, by what came of them: Fired, Skipped or Failed.",
            labels=["status"],
        )
        counts = dict(cached("schedule_fires", _schedule_fires))
        for status in sorted({ScheduleFire.FIRED, ScheduleFire.SKIPPED, ScheduleFire.FAILED} | set(counts)):
            fires.add_metric([status], counts.get(status, 0))
        yield fires


# --- the endpoint ------------------------------------------------------------------------------


def may_scrape(request: HttpRequest) -> bool:
    """With RUNBOARD_METRICS_TOKEN set, the request must carry it as a bearer token; else it must come from
    this machine (behind RUNBOARD_BEHIND_PROXY, the client the proxy names, not the proxy)."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    try:
        address = ipaddress.ip_address(client_ip(request) or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


@login_not_required
@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_scrape(request):
        why = "a bearer token" if settings.METRICS_TOKEN else "a client on this machine"
        return HttpResponse(
            f"Metrics are only for {why} (RUNBOARD_METRICS_TOKEN).\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MirrorCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # every gunicorn worker's request latencies
    else:
        registry.register(REQUEST_LATENCY)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
