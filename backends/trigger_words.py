"""A schedule's trigger in plain words for a manager, cron and recurrence alike: "every day at 02:30, W. Europe
time", "weekdays at 04:00 and 04:30, Pacific time", "every 15 minutes". A cron expression too intricate to say so
is described by cron-descriptor. Pure Python."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from cron_descriptor import ExpressionDescriptor, Options

from backends.triggers import _ELAPSED, _UTC_NAMES, WEEK_DAYS, _pattern, _safe_wall_clock

_NUMBERS = re.compile(r"\d+(?:,\d+)*")
_CRON_DAYS = {"0": "sunday", "7": "sunday", "1": "monday", "2": "tuesday", "3": "wednesday", "4": "thursday"}
_CRON_DAYS |= {"5": "friday", "6": "saturday"}


def describe(trigger: dict) -> str:
    """The trigger in plain words for a manager, e.g. "weekdays at 04:00 and 04:30, Pacific time"."""
    kind = trigger.get("type")
    if kind == "change":
        minutes = _every(trigger.get("polling_interval") or 5, "minute")
        return f"when a file is added or changed in {trigger.get('path')} (checked {minutes})"
    if kind == "cron":
        text = _describe_cron(str(trigger.get("expression")))
    elif kind == "recurrence":
        text = _describe_recurrence(trigger)
    else:
        return f"unknown trigger type {kind!r}"
    if kind == "cron" or trigger.get("frequency") not in _ELAPSED or _pattern(trigger):
        text += f", {_zone_label(trigger)}"  # elapsed minutes and hours are the same in every zone
    if trigger.get("end_time"):
        text += f", until {str(trigger['end_time']).replace('T', ' ')[:16]}"
    return text


def _describe_cron(expression: str) -> str:
    if (said := _cron_in_words(expression)) is not None:
        return said
    options = Options()
    options.use_24hour_time_format = True
    try:
        return ExpressionDescriptor(expression, options).get_description()
    except Exception:  # cron-descriptor raises several kinds of its own on a bad expression
        return f"cron {expression!r}"


def _describe_recurrence(trigger: dict) -> str:
    frequency, interval = trigger.get("frequency"), trigger.get("interval") or 1
    schedule = trigger.get("schedule") or {}
    start = _safe_wall_clock(trigger.get("start_time"))
    if frequency in _ELAPSED and not _pattern(trigger):
        if frequency == "minute":
            return _every(interval, "minute")
        if interval == 1:
            return f"every hour at :{start.minute if start else 0:02d}"
        return f"every {interval} hours" + (f" from {start:%H:%M}" if start else "")
    hours = sorted(schedule.get("hours") or ([start.hour] if start and frequency not in _ELAPSED else []))
    minutes = sorted(schedule.get("minutes") or ([start.minute] if start else [0]))
    at = _times(hours, minutes) if hours or schedule.get("minutes") else ""
    week_days = [d for d in WEEK_DAYS if d in (schedule.get("week_days") or [])]
    if frequency == "week" and not week_days and start:
        week_days = [WEEK_DAYS[start.weekday()]]
    if frequency == "day":
        text = _every(interval, "day")
        if week_days:
            text += f" ({_and([d.title() + 's' for d in week_days])} only)"
    elif frequency == "week":
        text = _week_days(week_days, interval)
    elif frequency == "month":
        month_days = schedule.get("month_days") or ([] if week_days or not start else [start.day])
        months = "every month" if interval == 1 else f"every {interval} months"
        if month_days:
            text = f"on day {_and(map(str, sorted(month_days)))} of {months}"
        else:
            text = f"on {_and([d.title() + 's' for d in week_days])} of {months}"
    else:
        text = _every(interval, str(frequency))
    return f"{text} at {at}" if at else text


def _week_days(days: list[str], interval: int) -> str:
    if len(days) == 7 or not days:
        named = "every day"
    elif days == list(WEEK_DAYS[:5]):
        named = "weekdays"
    elif days == list(WEEK_DAYS[5:]):
        named = "weekends"
    else:
        named = _and([d.title() for d in days])
        if interval == 1:
            return f"every {named}"
    return named if interval == 1 else f"every {interval} weeks on {named}"


def _times(hours: list[int], minutes: list[int]) -> str:
    if not hours:
        return _and([f":{m:02d}" for m in minutes])
    if len(hours) * len(minutes) > 6:
        return f"{_and([f':{m:02d}' for m in minutes])} past {_and([f'{h:02d}' for h in hours])}"
    return _and([f"{h:02d}:{m:02d}" for h in hours for m in minutes])


def _zone_label(trigger: dict) -> str:
    name = str(trigger.get("time_zone_name") or trigger.get("time_zone") or "UTC")
    if name.removeprefix("Etc/") in _UTC_NAMES:
        return "UTC"
    if " Standard Time" in name:
        return name.replace(" Standard Time", "") + " time"
    return name if name.startswith("UTC") else f"{name} time"  # Windows' "UTC-11", "UTC+12"


def _every(count: Any, unit: str) -> str:
    return f"every {unit}" if count == 1 else f"every {count} {unit}s"


def _and(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _cron_in_words(expression: str) -> str | None:
    """The forms schedules mostly use, phrased as recurrences are; None for the others."""
    fields = expression.split()
    if len(fields) != 5:
        return None
    minute, hour, day, month, week_day = fields
    if month != "*":
        return None
    if (step := re.fullmatch(r"\*/(\d+)", minute)) and hour == day == week_day == "*":
        return _every(int(step[1]), "minute")
    if not _NUMBERS.fullmatch(minute):
        return None
    minutes = sorted(int(m) for m in minute.split(","))
    if day == week_day == "*" and (hour == "*" or re.fullmatch(r"\*/\d+", hour)):
        every = "every hour" if hour == "*" else _every(int(hour[2:]), "hour")
        return f"{every} at {_and([f':{m:02d}' for m in minutes])}"
    if not _NUMBERS.fullmatch(hour):
        return None
    at = _times(sorted(int(h) for h in hour.split(",")), minutes)
    if day == "*" and week_day == "*":
        return f"every day at {at}"
    if day == "*":
        days = _cron_week_days(week_day)
        return None if days is None else f"{_week_days(days, 1)} at {at}"
    if week_day == "*" and _NUMBERS.fullmatch(day):
        return f"on day {_and(sorted(day.split(','), key=int))} of every month at {at}"
    return None


def _cron_week_days(field: str) -> list[str] | None:
    names: set[str] = set()
    for part in field.split(","):
        if (span := re.fullmatch(r"(\d)-(\d)", part)) and int(span[1]) <= int(span[2]) <= 7:
            names.update(_CRON_DAYS[str(d)] for d in range(int(span[1]), int(span[2]) + 1))
        elif part in _CRON_DAYS:
            names.add(_CRON_DAYS[part])
        else:
            return None
    return [d for d in WEEK_DAYS if d in names]
