"""The overview (/): is anything wrong, across every backend, read from the mirror in a bounded number of queries
whatever the number of runs. The runs' part is dashboard/overview_runs.py; here are the schedules (fires that
failed or were skipped lately, and what fires in the next hours), the backends' health, the latest actions, and
the page as a whole. Every number comes with the URL of the list that shows the same rows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Count, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from backends import registry, triggers
from backends.base import FireStatus
from dashboard.links import object_url, path, runs_url
from dashboard.models import Action, BackendState
from dashboard.overview_runs import ACTIVE, ActiveRuns, Failures, Overdue, active_runs, failures, overdue
from schedules.models import Schedule, ScheduleFire

MISSED_HOURS = 24
UPCOMING_HOURS = 6
SCHEDULES_SHOWN = 5
FIRES_MARGIN = timedelta(hours=1)
FIRES_TTL = 600  # seconds, less than FIRES_MARGIN
ACTIONS_SHOWN = 5
UNDER_WAY = (Action.Status.PENDING, Action.Status.RUNNING)


# --- schedules ----------------------------------------------------------------------------------------


@dataclass
class Upcoming:
    schedule: Schedule
    at: datetime

    @property
    def url(self) -> str:
        return object_url("schedules:detail", self.schedule.pk)


@dataclass
class ScheduleHealth:
    missed_count: int  # schedules with a failed or skipped fire in the last MISSED_HOURS
    missed_url: str
    missed: list[ScheduleFire]  # the newest such fires
    upcoming_count: int  # schedules firing in the next UPCOMING_HOURS
    upcoming_url: str
    upcoming: list[Upcoming]  # the soonest


def _fires_key(trigger: str) -> str:
    # The times depend on the trigger alone: schedules with the same trigger share them.
    return "overview:fires:" + hashlib.sha256(trigger.encode()).hexdigest()


def next_fires(schedule_triggers: list[str], now: datetime) -> list[datetime | None]:
    """Each schedule's next fire time if it comes in the next UPCOMING_HOURS, else None.

    Working out a trigger's times costs about a millisecond (croniter, rrule), so each schedule's times up to
    UPCOMING_HOURS and a margin ahead are cached, by trigger, for less than that margin: until the entry expires,
    the next UPCOMING_HOURS lie inside what it holds. A trigger comes as its JSON text, read only on a miss."""
    until = now + timedelta(hours=UPCOMING_HOURS)
    keys = [_fires_key(trigger) for trigger in schedule_triggers]
    cached = cache.get_many(keys)
    fresh = {}
    found = []
    for trigger, key in zip(schedule_triggers, keys, strict=True):
        times = cached.get(key, fresh.get(key))
        if times is None:
            try:
                times = triggers.fire_times(
                    json.loads(trigger), after=now, until=until + FIRES_MARGIN, limit=10_000
                )
            except (KeyError, ValueError, TypeError, AttributeError):  # unreadable: it never fires
                times = []
            fresh[key] = times
        found.append(next((t for t in times if now < t <= until), None))
    if fresh:
        cache.set_many(fresh, FIRES_TTL)
    return found


def schedule_health(now: datetime) -> ScheduleHealth:
    schedules_list = path("schedules:list")
    missed = ScheduleFire.objects.filter(
        status__in=[FireStatus.FAILED, FireStatus.SKIPPED],
        fire_time__gte=now - timedelta(hours=MISSED_HOURS),
    )
    missed_count = missed.values("schedule_id").distinct().count()
    newest = list(
        missed.select_related("schedule")
        .only(
            "id", "fire_time", "status", "reason", "schedule__id", "schedule__name", "schedule__display_name"
        )
        .order_by("-fire_time", "-id")[:SCHEDULES_SHOWN]
        if missed_count
        else []
    )
    for fire in newest:
        fire.schedule_url = object_url("schedules:detail", fire.schedule_id)
    # Rows, not models: every enabled schedule is read, and only the soonest few are shown.
    enabled = list(
        Schedule.objects.filter(enabled=True).values_list(
            "pk", "backend", "name", "display_name", Cast("trigger", TextField())
        )
    )
    upcoming = sorted(
        (
            (at, row)
            for row, at in zip(enabled, next_fires([row[-1] for row in enabled], now), strict=True)
            if at
        ),
        key=lambda entry: (entry[0], entry[1][2], entry[1][0]),  # soonest, then by name
    )
    return ScheduleHealth(
        missed_count=missed_count,
        missed_url=f"{schedules_list}?{urlencode({'missed_within': MISSED_HOURS})}",
        missed=newest,
        upcoming_count=len(upcoming),
        upcoming_url=f"{schedules_list}?{urlencode({'firing_within': UPCOMING_HOURS})}",
        upcoming=[
            Upcoming(Schedule(pk=pk, backend=backend, name=name, display_name=display_name), at)
            for at, (pk, backend, name, display_name, _) in upcoming[:SCHEDULES_SHOWN]
        ],
    )


# --- backends and actions -----------------------------------------------------------------------------


@dataclass
class BackendHealth:
    name: str
    state: BackendState | None
    configured: bool
    active: int
    active_url: str

    @property
    def healthy(self) -> bool:
        return self.state is None or self.state.healthy

    @property
    def lag(self) -> timedelta | None:
        if self.state is None or self.state.last_success_at is None:
            return None
        return timezone.now() - self.state.last_success_at


def backend_health(active: ActiveRuns) -> list[BackendHealth]:
    states = {s.name: s for s in BackendState.objects.all()}
    configured = set(registry.names())
    return [
        BackendHealth(
            name=name,
            state=states.get(name),
            configured=name in configured,
            active=active.by_backend.get(name, 0),
            active_url=runs_url(status=ACTIVE, backend=name),
        )
        for name in sorted(configured | set(states) | set(active.by_backend))
    ]


@dataclass
class ActionSummary:
    latest: list[Action]
    counts: dict[str, int]  # pending, running
    urls: dict[str, str]


def action_summary() -> ActionSummary:
    counts = dict(
        Action.objects.filter(status__in=UNDER_WAY).values_list("status").annotate(n=Count("*")).order_by()
    )
    action_list = path("action_list")
    latest = list(
        Action.objects.select_related("requested_by").order_by("-requested_at", "-id")[:ACTIONS_SHOWN]
    )
    for action in latest:
        action.url = object_url("action_detail", action.pk)
    return ActionSummary(
        latest=latest,
        counts={status: counts.get(status, 0) for status in UNDER_WAY},
        urls={status: f"{action_list}?{urlencode({'status': status})}" for status in UNDER_WAY},
    )


# --- the page -----------------------------------------------------------------------------------------


@dataclass
class Overview:
    now: datetime
    active: ActiveRuns
    failures: Failures
    overdue: Overdue
    schedules: ScheduleHealth
    backends: list[BackendHealth]
    actions: ActionSummary

    @property
    def failing_backends(self) -> list[BackendHealth]:
        return [b for b in self.backends if not b.healthy]


def overview(now: datetime | None = None) -> Overview:
    now = now or timezone.now()
    active = active_runs()
    return Overview(
        now=now,
        active=active,
        failures=failures(now),
        overdue=overdue(now, active),
        schedules=schedule_health(now),
        backends=backend_health(active),
        actions=action_summary(),
    )
