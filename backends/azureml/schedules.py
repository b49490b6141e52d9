"""Azure ML v2 schedules (ARM ``schedules``, through the SDK) in the contract's form.

Triggers become backends.triggers' normal form, so plain words, next fires and the calendar work as for the
local engine. Azure ML writes times as naive wall-clock times in the trigger's zone ("2022-03-10 10:15:00")
and zones as Windows names ("Pacific Standard Time").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backends import triggers
from backends.base import ScheduleInfo

WEEK_DAYS = {day[:3]: day for day in triggers.WEEK_DAYS}


def wall_clock(value: Any) -> str | None:
    """Naive ISO wall-clock time from Azure ML's forms ("2022-03-10 10:15:00", ISO, a datetime)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    text = str(value).strip().replace(" ", "T")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def normal_trigger(trigger: Any) -> dict[str, Any]:
    """backends.triggers' form of an SDK CronTrigger or RecurrenceTrigger."""
    zone_name = str(getattr(trigger, "time_zone", None) or "UTC")
    zone_name = zone_name.split(".")[-1] if zone_name.startswith("TimeZone.") else zone_name
    try:
        zone = triggers.resolve_time_zone(zone_name).key
    except ValueError:
        zone = zone_name  # kept as written: the trigger's validation names it
    common = {
        "time_zone": zone,
        "time_zone_name": zone_name,
        "start_time": wall_clock(getattr(trigger, "start_time", None)),
        "end_time": wall_clock(getattr(trigger, "end_time", None)),
    }
    expression = getattr(trigger, "expression", None)
    if expression:
        return {"type": "cron", "expression": str(expression), **common}
    pattern = getattr(trigger, "schedule", None)
    days = [str(d).lower() for d in (getattr(pattern, "week_days", None) or [])]
    return {
        "type": "recurrence",
        "frequency": str(getattr(trigger, "frequency", "") or "").lower(),
        "interval": int(getattr(trigger, "interval", 1) or 1),
        "schedule": {
            "hours": list(getattr(pattern, "hours", None) or []),
            "minutes": list(getattr(pattern, "minutes", None) or []),
            "week_days": [WEEK_DAYS.get(d[:3], d) for d in days],
            "month_days": list(getattr(pattern, "month_days", None) or []),
        },
        **common,
    }


def schedule_info(schedule: Any) -> ScheduleInfo:
    """An SDK JobSchedule (its ``create_job`` a job, or a job's ARM id)."""
    job = getattr(schedule, "create_job", None)
    experiment = getattr(job, "experiment_name", "") or ""
    inputs = getattr(job, "inputs", None) or {}
    parameters = {}
    for name, value in dict(inputs).items():
        raw = getattr(value, "_data", value)
        parameters[str(name)] = raw if isinstance(raw, str | int | float | bool) or raw is None else str(raw)
    target = (
        getattr(job, "display_name", None)
        or getattr(job, "name", None)
        or (job if isinstance(job, str) else "")
    )
    context = getattr(schedule, "creation_context", None)
    return ScheduleInfo(
        id=str(schedule.name),
        name=str(schedule.name),
        enabled=bool(schedule.is_enabled),
        display_name=str(getattr(schedule, "display_name", "") or ""),
        description=str(getattr(schedule, "description", "") or ""),
        trigger=normal_trigger(schedule.trigger),
        pipeline_id=str(target or ""),
        experiment_name=str(experiment),
        parameters=parameters,
        tags={str(k): str(v) for k, v in (getattr(schedule, "tags", None) or {}).items()},
        definition=str(schedule),
        created_at=getattr(context, "created_at", None),
        updated_at=getattr(context, "last_modified_at", None),
    )
