"""Schedule pages: every schedule of every backend, one schedule's history, the week ahead, and switching off."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta

from django.contrib import messages
from django.db.models import Exists, F, OuterRef, Q, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from backends import triggers
from backends.base import RunStatus
from dashboard import params, roles
from dashboard.actions import attach_unfinished
from runs.forms import ReasonForm
from schedules.actions import schedule_set_enabled
from schedules.models import Schedule, ScheduleFire

MARKS = 10
HISTORY = 100
CALENDAR_DAYS = 7
NAMES_PER_CELL = 4


MAX_HOURS = 24 * 7  # how far back or ahead the fire filters look, at most


def _hours(raw: str) -> int | None:
    hours = params.whole_or_none(raw)
    return hours if hours is not None and 1 <= hours <= MAX_HOURS else None


def _filtered(request: HttpRequest, now: datetime):
    schedules = Schedule.objects.select_related("pipeline", "published_pipeline")
    filters = {key: request.GET.get(key, "").strip() for key in ("status", "pipeline", "backend", "q")}
    # The overview's links: schedules with a failed or skipped fire in the last N hours, and ones firing in the
    # next N hours (that one is checked in the view, against each schedule's next fire time).
    filters["missed_within"] = _hours(request.GET.get("missed_within", ""))
    filters["firing_within"] = _hours(request.GET.get("firing_within", ""))
    if filters["missed_within"]:
        missed = ScheduleFire.objects.filter(
            schedule=OuterRef("pk"),
            status__in=[ScheduleFire.FAILED, ScheduleFire.SKIPPED],
            fire_time__gte=now - timedelta(hours=filters["missed_within"]),
        )
        schedules = schedules.filter(Exists(missed))
    if filters["status"] in ("enabled", "disabled"):
        schedules = schedules.filter(enabled=filters["status"] == "enabled")
    if filters["pipeline"]:
        schedules = schedules.filter(target_label=filters["pipeline"])
    if filters["backend"]:
        schedules = schedules.filter(backend=filters["backend"])
    if filters["q"]:
        q = filters["q"]
        schedules = schedules.filter(
            Q(name__icontains=q) | Q(display_name__icontains=q) | Q(description__icontains=q)
        )
    return schedules, filters


def _recent_fires(schedules: list[Schedule], count: int) -> dict[int, list[ScheduleFire]]:
    """The last ``count`` fires of each schedule, in one query."""
    ranked = (
        ScheduleFire.objects.filter(schedule__in=schedules)
        .select_related("run")
        .annotate(rank=Window(RowNumber(), partition_by=F("schedule_id"), order_by=F("fire_time").desc()))
        .filter(rank__lte=count)
    )
    fires: dict[int, list[ScheduleFire]] = defaultdict(list)
    for fire in ranked.order_by("schedule_id", "fire_time"):
        fires[fire.schedule_id].append(fire)
    return fires


@require_GET
@roles.require(roles.READ_SCHEDULES)
def schedule_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    queryset, filters = _filtered(request, now)
    schedules = list(queryset)
    attach_unfinished("schedule", schedules)  # first: the next fires follow a schedule switched off meanwhile
    for schedule in schedules:
        upcoming = schedule.next_fire_times(1, now)
        schedule.next_fire = upcoming[0] if upcoming else None
    if filters["firing_within"]:
        until = now + timedelta(hours=filters["firing_within"])
        schedules = [s for s in schedules if s.next_fire is not None and s.next_fire <= until]
    marks = _recent_fires(schedules, MARKS)
    for schedule in schedules:
        schedule.marks = marks.get(schedule.pk, [])
    following = any(s.pending_action for s in schedules)
    if request.htmx:  # the table's own poll, while a change is under way
        return render(
            request,
            "schedules/schedule_list.html#schedule-table",
            {
                "schedules": schedules,
                "following": following,
                "can_switch": request.user.has_perm(roles.ENABLE_SCHEDULE),
            },
        )
    everything = Schedule.objects.all()
    return render(
        request,
        "schedules/schedule_list.html",
        {
            "schedules": schedules,
            "following": following,
            "filters": filters,
            "pipelines": sorted(set(everything.values_list("target_label", flat=True)) - {""}),
            "backends": sorted(set(everything.values_list("backend", flat=True))),
            "can_switch": request.user.has_perm(roles.ENABLE_SCHEDULE),
        },
    )


def _stats(fires: list[ScheduleFire]) -> dict:
    runs = [f.run for f in fires if f.run is not None and f.run.is_terminal]
    durations = [r.duration.total_seconds() for r in runs if r.duration is not None]
    completed = sum(r.status == RunStatus.COMPLETED for r in runs)
    return {
        "finished_runs": len(runs),
        "success_rate": round(100 * completed / len(runs)) if runs else None,
        "median_duration": timedelta(seconds=statistics.median(durations)) if durations else None,
    }


@require_GET
@roles.require(roles.READ_SCHEDULES)
def schedule_detail(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule.objects.select_related("pipeline", "published_pipeline"), pk=pk)
    attach_unfinished("schedule", [schedule])
    if request.htmx:  # the title's own poll, while a change is under way
        return render(
            request,
            "schedules/schedule_detail.html#schedule-live",
            {"schedule": schedule, "can_switch": request.user.has_perm(roles.ENABLE_SCHEDULE)},
        )
    fires = list(schedule.fires.select_related("run").order_by("-fire_time")[:HISTORY])
    return render(
        request,
        "schedules/schedule_detail.html",
        {
            "schedule": schedule,
            "fires": fires,
            "next_fires": schedule.next_fire_times(10),
            "stats": _stats(fires),
            "can_switch": request.user.has_perm(roles.ENABLE_SCHEDULE),
        },
    )


@require_POST
@roles.require(roles.ENABLE_SCHEDULE)
def schedule_set_enabled_view(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=pk)
    form = ReasonForm(request.POST)
    form.is_valid()
    enabled = request.POST.get("enabled") == "1"
    if enabled and schedule.missing:
        messages.error(request, f"{schedule} cannot be enabled: {schedule.missing}.")
        return redirect(params.next_url(request, request.POST.get("next"), schedule.get_absolute_url()))
    action = schedule_set_enabled(
        schedule=schedule, user=request.user, enabled=enabled, reason=form.cleaned_data.get("reason", "")
    )
    messages.info(request, f"{action.get_kind_display()} {schedule} requested (action #{action.pk}).")
    return redirect(params.next_url(request, request.POST.get("next"), schedule.get_absolute_url()))


@require_POST
@roles.require(roles.ENABLE_SCHEDULE)
def schedule_bulk(request: HttpRequest) -> HttpResponse:
    """First a preview of exactly what will change; then, confirmed, one action per schedule that changes."""
    enabled = request.POST.get("enabled") == "1"
    ids = params.ids(request.POST.getlist("ids"), limit=1000)
    selected = list(Schedule.objects.filter(pk__in=ids).order_by("name"))
    if not selected:
        messages.error(request, "Select at least one schedule.")
        return redirect("schedules:list")
    changing = [s for s in selected if s.enabled != enabled and not (enabled and s.missing)]
    unchanged = [s for s in selected if s.enabled == enabled]
    refused = [s for s in selected if enabled and not s.enabled and s.missing]
    if request.POST.get("confirm") != "1":
        return render(
            request,
            "schedules/bulk_preview.html",
            {"enabled": enabled, "changing": changing, "unchanged": unchanged, "refused": refused},
        )
    form = ReasonForm(request.POST)
    form.is_valid()
    for schedule in changing:
        schedule_set_enabled(
            schedule=schedule, user=request.user, enabled=enabled, reason=form.cleaned_data.get("reason", "")
        )
    verb = "Enabling" if enabled else "Disabling"
    already = f"; {_count(len(unchanged), 'was', 'were')} already" if unchanged else ""
    messages.info(request, f"{verb} {_count(len(changing), 'schedule', 'schedules')}{already}.")
    return redirect("schedules:list")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@require_GET
@roles.require(roles.READ_SCHEDULES)
def schedule_calendar(request: HttpRequest) -> HttpResponse:
    """The next 7 days, hour by hour, in the viewer's time zone: what fires when, and where it piles up."""
    zone = timezone.get_current_timezone()
    now = timezone.now()
    start = now.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(days=CALENDAR_DAYS)
    days = [(start + timedelta(days=d)).date() for d in range(CALENDAR_DAYS + 1)]
    cells: dict[tuple, dict[Schedule, int]] = defaultdict(lambda: defaultdict(int))
    backend = request.GET.get("backend", "").strip()
    enabled = Schedule.objects.filter(enabled=True)
    bands = []  # schedules firing more often than hourly: one band each, not a name in every cell
    for schedule in enabled.filter(backend=backend) if backend else enabled:
        try:
            times = triggers.fire_times(schedule.trigger, after=now, until=end, limit=50_000)
        except (KeyError, ValueError):
            continue
        if len(times) > 24 * CALENDAR_DAYS:
            bands.append({"schedule": schedule, "count": len(times)})
            continue
        for when in times:
            local = when.astimezone(zone)
            cells[(local.date(), local.hour)][schedule] += 1
    rows = []
    for hour in range(24):
        row = []
        for day in days:
            entries = sorted(cells.get((day, hour), {}).items(), key=lambda e: (-e[1], e[0].name))
            row.append(
                {
                    "total": sum(n for _, n in entries),
                    "distinct": len(entries),
                    "shown": entries[:NAMES_PER_CELL],
                    "more": max(0, len(entries) - NAMES_PER_CELL),
                    "past": datetime.combine(day, datetime.min.time(), zone) + timedelta(hours=hour + 1)
                    <= now,
                }
            )
        rows.append({"hour": hour, "cells": row})
    return render(
        request,
        "schedules/calendar.html",
        {
            "days": days,
            "rows": rows,
            "bands": sorted(bands, key=lambda b: b["schedule"].name),
            "zone": zone,
            "busiest": max((c["distinct"] for r in rows for c in r["cells"]), default=0),
            "backend": backend,
            "backends": sorted(set(Schedule.objects.values_list("backend", flat=True))),
        },
    )
