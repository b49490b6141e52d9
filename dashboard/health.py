"""`/healthz` and `/readyz`, for load balancers, systemd and orchestrators.

/healthz says the web process answers: no login, no database, no Redis, so a slow database never gets a healthy
web server restarted. /readyz says it can serve: the database answers a query, Redis a ping, and every configured
backend's mirror was synced recently. Each check is bounded (RUNBOARD_HEALTH_TIMEOUT), so a probe never hangs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from backends import registry
from dashboard import deadline
from dashboard.models import BackendState


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


@login_not_required
@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """200 and {"status": "ok", "checks": {name: "ok ..."}}, or 503 with each failing check's reason."""
    checks: dict[str, str] = {}
    failing: list[str] = []
    database = _check("database", check_database, checks, failing)
    _check("redis", check_redis, checks, failing)
    if database:
        try:
            lags = backend_lags(timezone.now())
        except Exception as exc:  # a database that answers SELECT 1 but not this (not migrated, say)
            lags = {"": f"failing: {type(exc).__name__}: {exc}"[:300]}
        for name, problem in lags.items():
            key = f"backend {name}".strip()
            checks[key] = problem or "ok"
            if problem:
                failing.append(key)
    body = {"status": "failing" if failing else "ok", "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)


def _check(name: str, check: Callable[[], None], checks: dict[str, str], failing: list[str]) -> bool:
    try:
        check()
    except Exception as exc:  # whatever stops it, the probe names it instead of answering 500
        checks[name] = f"failing: {type(exc).__name__}: {exc}"[:300]
        failing.append(name)
        return False
    checks[name] = "ok"
    return True


def check_database() -> None:
    """One trivial query, stopped after RUNBOARD_HEALTH_TIMEOUT seconds."""
    seconds = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    with deadline.within(seconds), transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL statement_timeout = %s", [seconds * 1000])
            cursor.execute("SELECT 1")
            if cursor.fetchone() != (1,):
                raise DatabaseError("SELECT 1 did not answer 1")


def check_redis() -> None:
    """A ping, with connect and read timeouts of RUNBOARD_HEALTH_TIMEOUT seconds."""
    seconds = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=seconds, socket_connect_timeout=seconds)
    try:
        if not client.ping():
            raise redis.RedisError("PING did not answer PONG")
    finally:
        client.close()


def backend_lags(now: datetime) -> dict[str, str]:
    """{backend: "" when synced within RUNBOARD_READY_MAX_SYNC_LAG, else what is wrong} for each configured one."""
    limit = settings.READY_MAX_SYNC_LAG_SECONDS
    states = {
        name: (synced, error)
        for name, synced, error in BackendState.objects.filter(name__in=registry.names()).values_list(
            "name", "last_success_at", "last_error"
        )
    }
    problems = {}
    for name in registry.names():
        synced, error = states.get(name, (None, ""))
        if synced is None:
            problem = "never synced"
        else:
            lag = (now - synced).total_seconds()
            problem = f"last synced {lag:.0f} s ago (limit {limit} s)" if lag > limit else ""
        if problem and error:
            problem += f"; last error: {error}"[:300]
        problems[name] = problem
    return problems
