"""Azure ML schedule triggers: when they fire (backends/trigger_words.py says it in plain words).

A trigger is a JSON-serialisable dict in one normalized form. The local engine stores it; the dashboard mirrors
it and computes next fire times and descriptions from it::

    {"type": "cron", "expression": "30 4 * * 1-5", "time_zone": "America/Los_Angeles",
     "time_zone_name": "Pacific Standard Time", "start_time": "2026-11-01T00:00:00", "end_time": None}
    {"type": "recurrence", "frequency": "week", "interval": 1,
     "schedule": {"hours": [4], "minutes": [0, 30], "week_days": ["monday"], "month_days": []},
     "time_zone": ..., "time_zone_name": ..., "start_time": ..., "end_time": ...}
    {"type": "change", "path": "/abs/folder/watched", "polling_interval": 5}   # minutes

``start_time`` and ``end_time`` are naive wall-clock times in the trigger's zone, as Azure ML writes them;
``time_zone`` is an IANA name, ``time_zone_name`` what the file said. An empty list in ``schedule`` leaves that
part to ``start_time``, as dateutil's rrule does.

Slots are wall-clock times (croniter for cron, rrule for recurrences) placed on the UTC time line in the trigger's
zone. A wall-clock time that happens twice (autumn) fires once, the first time; one that does not happen (spring)
fires once, moved forward by the gap. Schedules that fire every hour are the exception, as in cron: a cron
expression whose hour field is ``*`` fires in both passes of a repeated hour, so it never skips an hour. Minute
and hour recurrences count elapsed time from ``start_time`` (slot k is start_time + k * interval), so "every
15 minutes" stays fifteen real minutes apart across both changes. Pure Python, no Django.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from dateutil import rrule
from dateutil.relativedelta import relativedelta
from tzlocal.windows_tz import win_tz

TYPES = ("cron", "recurrence", "change")
FREQUENCIES = ("minute", "hour", "day", "week", "month")
WEEK_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SCHEDULE_KEYS = ("hours", "minutes", "week_days", "month_days")

_RRULE_FREQUENCY = {
    "minute": rrule.MINUTELY,
    "hour": rrule.HOURLY,
    "day": rrule.DAILY,
    "week": rrule.WEEKLY,
    "month": rrule.MONTHLY,
}
_ELAPSED = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}
# Wall-clock slots reach the UTC time line out of order by at most a zone's largest change of offset.
_SLACK = timedelta(hours=3)
_FOREVER = timedelta(days=100 * 366)
# Where a trigger without a start_time counts its intervals from (triggers the loader writes always have one).
_EPOCH = datetime(2000, 1, 3)  # a Monday, midnight
# Windows calls its UTC zone "UTC" (which tzlocal maps) and shows it as "Coordinated Universal Time".
_WINDOWS_DISPLAY_NAMES = {"Coordinated Universal Time": "UTC"}
_UTC_NAMES = {"UTC", "UCT", "Universal", "Zulu", "Coordinated Universal Time"}


@functools.lru_cache(maxsize=256)
def resolve_time_zone(name: str) -> ZoneInfo:
    """The zone of an IANA name or of a Windows name as Azure ML writes it ("Pacific Standard Time")."""
    if isinstance(name, str) and name.strip():
        text = name.strip()
        for key in (
            text,
            win_tz.get(text),
            _WINDOWS_DISPLAY_NAMES.get(text),
            _loose_windows_names().get(_loose(text)),
        ):
            if not key:
                continue
            try:
                return ZoneInfo(key)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    raise ValueError(
        f"unknown time zone {name!r}: use an IANA name (Europe/Berlin) or a Windows name (W. Europe Standard Time)"
    )


def fire_times(trigger: dict, after: datetime, until: datetime, limit: int = 10_000) -> list[datetime]:
    """The trigger's slots (aware, UTC) strictly after ``after`` and at or before ``until``, sorted, at most ``limit``."""
    _require_aware(after, "after")
    _require_aware(until, "until")
    if trigger.get("type") not in ("cron", "recurrence") or limit < 1 or until <= after:
        return []
    zone = resolve_time_zone(trigger.get("time_zone") or "UTC")
    start = _wall_clock(trigger.get("start_time"), zone)
    end = _wall_clock(trigger.get("end_time"), zone)
    after, until = after.astimezone(UTC), until.astimezone(UTC)
    if trigger["type"] == "cron":
        expression = str(trigger["expression"])
        every_hour = expression.split()[1:2] == ["*"]
        slots = _cron_slots(expression, zone, start, end, after, both_folds=every_hour)
    elif trigger["frequency"] in _ELAPSED and not _pattern(trigger):
        return _elapsed_slots(trigger, zone, start, end, after, until, limit)
    else:
        sub_daily = trigger["frequency"] in _ELAPSED
        slots = _rrule_slots(trigger, zone, start, end, after, both_folds=sub_daily)
    return _collect(slots, after, until, limit)


def next_fire_times(trigger: dict, now: datetime, count: int = 10) -> list[datetime]:
    """The next ``count`` slots (aware, UTC) after ``now``; none for a change trigger."""
    return fire_times(trigger, now, now + _FOREVER, limit=count)


def validate(trigger: dict) -> list[tuple[str, str]]:
    """(field, message) for each problem of a trigger; fields are named as in its YAML (``schedule.hours``)."""
    kind = trigger.get("type")
    if kind not in TYPES:
        return [("type", f"unknown trigger type {kind!r} ({', '.join(TYPES)})")]
    if kind == "change":
        problems = []
        if not isinstance(trigger.get("path"), str) or not trigger["path"]:
            problems.append(("path", "expected the folder to watch"))
        if not _whole(trigger.get("polling_interval"), 1):
            problems.append(
                (
                    "polling_interval",
                    f"expected whole minutes, 1 or more, got {trigger.get('polling_interval')!r}",
                )
            )
        return problems
    problems = _validate_cron(trigger) if kind == "cron" else _validate_recurrence(trigger)
    problems += _validate_times(trigger)
    return problems


# --- slots ---------------------------------------------------------------------------------------------------


def _elapsed_slots(
    trigger: dict,
    zone: ZoneInfo,
    start: datetime | None,
    end: datetime | None,
    after: datetime,
    until: datetime,
    limit: int,
) -> list[datetime]:
    step = _ELAPSED[trigger["frequency"]] * int(trigger["interval"])
    first = _to_utc(start or _EPOCH, zone)[0]
    last = min(until, _to_utc(end, zone)[0]) if end else until
    slot = first if after < first else first + ((after - first) // step + 1) * step
    slots = []
    while slot <= last and len(slots) < limit:
        slots.append(slot)
        slot += step
    return slots


def _cron_slots(
    expression: str,
    zone: ZoneInfo,
    start: datetime | None,
    end: datetime | None,
    after: datetime,
    both_folds: bool,
) -> Iterator[datetime]:
    base = _local(after, zone) - _SLACK
    if start and base < start:
        base = start - timedelta(seconds=1)  # croniter gives slots strictly after its base
    slots = croniter(expression, base)
    while True:
        try:
            slot = slots.get_next(datetime)
        except CroniterBadDateError:  # no slot in the years croniter looks ahead
            return
        if end and slot > end:
            return
        if not start or slot >= start:
            yield from _to_utc(slot, zone, both_folds)


def _rrule_slots(
    trigger: dict,
    zone: ZoneInfo,
    start: datetime | None,
    end: datetime | None,
    after: datetime,
    both_folds: bool,
) -> Iterator[datetime]:
    frequency, interval = trigger["frequency"], int(trigger["interval"])
    schedule = trigger.get("schedule") or {}
    anchor = start or _EPOCH
    week_days = [WEEK_DAYS.index(d) for d in schedule.get("week_days") or []]
    # rrule's defaults taken from dtstart, spelled out so that a later dtstart keeps the schedule's slots.
    rule = {
        "byhour": schedule.get("hours") or (None if frequency in _ELAPSED else anchor.hour),
        "byminute": schedule.get("minutes") or (None if frequency == "minute" else anchor.minute),
        "bysecond": 0,
        "byweekday": week_days or (anchor.weekday() if frequency == "week" else None),
        "bymonthday": schedule.get("month_days")
        or (anchor.day if frequency == "month" and not week_days else None),
    }
    # Skip whole intervals up to shortly before `after`, so a schedule started years ago costs no more.
    dtstart = anchor
    skipped = _periods_between(anchor, _local(after, zone) - _SLACK, frequency) // interval * interval
    if skipped > 0:
        dtstart = _period_start(anchor, frequency) + _periods(frequency, skipped)
    slots = rrule.rrule(
        _RRULE_FREQUENCY[frequency],
        dtstart=dtstart,
        interval=interval,
        until=end,
        wkst=rrule.MO,
        cache=False,
        **rule,
    )
    for slot in slots:
        yield from _to_utc(slot, zone, both_folds)


def _collect(slots: Iterable[datetime], after: datetime, until: datetime, limit: int) -> list[datetime]:
    found: set[datetime] = set()
    cutoff = None
    for slot in slots:
        # Later slots are at most _SLACK earlier than this one, so none of them can still be wanted.
        if slot - _SLACK > until or (cutoff is not None and slot - _SLACK > cutoff):
            break
        if after < slot <= until and slot not in found:
            found.add(slot)
            if cutoff is None and len(found) >= limit:
                cutoff = max(found)
    return sorted(found)[:limit]


def _to_utc(wall: datetime, zone: ZoneInfo, both_folds: bool = False) -> list[datetime]:
    # fold=0 is the first of a repeated time and, for a time in a gap, the offset before the gap: moved forward.
    first = wall.replace(tzinfo=zone).astimezone(UTC)
    if both_folds:
        second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
        if second != first and second.astimezone(zone).replace(tzinfo=None) == wall:
            return [first, second]
    return [first]


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _period_start(moment: datetime, frequency: str) -> datetime:
    moment = moment.replace(second=0, microsecond=0)
    if frequency == "minute":
        return moment
    moment = moment.replace(minute=0)
    if frequency == "hour":
        return moment
    moment = moment.replace(hour=0)
    if frequency == "week":
        return moment - timedelta(days=moment.weekday())
    return moment.replace(day=1) if frequency == "month" else moment


def _periods(frequency: str, count: int) -> timedelta | relativedelta:
    if frequency == "month":
        return relativedelta(months=count)
    return {
        "minute": timedelta(minutes=count),
        "hour": timedelta(hours=count),
        "day": timedelta(days=count),
    }.get(frequency, timedelta(weeks=count))


def _periods_between(first: datetime, later: datetime, frequency: str) -> int:
    if frequency == "month":
        return (later.year - first.year) * 12 + later.month - first.month
    span = _period_start(later, frequency) - _period_start(first, frequency)
    return span // {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}.get(
        frequency, timedelta(weeks=1)
    )


# --- plain words ---------------------------------------------------------------------------------------------


# --- checks --------------------------------------------------------------------------------------------------


def _validate_cron(trigger: dict) -> list[tuple[str, str]]:
    expression = trigger.get("expression")
    if not isinstance(expression, str) or not expression.strip():
        return [("expression", "expected a cron expression such as '30 4 * * 1-5'")]
    fields = expression.split()
    if len(fields) != 5:
        return [
            (
                "expression",
                f"{expression!r} has {len(fields)} fields; Azure ML cron has 5: minutes hours days months days-of-week",
            )
        ]
    if not croniter.is_valid(expression):
        return [("expression", f"{expression!r} is not a valid cron expression")]
    if fields[2] != "*" or fields[3] != "*":
        # Azure ML treats both as '*'; refusing them keeps local runs and Azure runs alike.
        message = (
            f"{expression!r}: Azure ML ignores the days and months fields of a cron expression (treats them as *);"
            " use a recurrence trigger with month_days instead"
        )
        return [("expression", message)]
    return []


def _validate_recurrence(trigger: dict) -> list[tuple[str, str]]:
    problems = []
    frequency = trigger.get("frequency")
    if frequency not in FREQUENCIES:
        problems.append(("frequency", f"expected one of {', '.join(FREQUENCIES)}, got {frequency!r}"))
    if not _whole(trigger.get("interval"), 1):
        problems.append(("interval", f"expected a whole number, 1 or more, got {trigger.get('interval')!r}"))
    schedule = trigger.get("schedule") or {}
    if not isinstance(schedule, dict):
        return [*problems, ("schedule", "expected a mapping of hours, minutes, week_days, month_days")]
    ranges = {"hours": (0, 23), "minutes": (0, 59), "month_days": (1, 31)}
    for key, (low, high) in ranges.items():
        values = schedule.get(key) or []
        bad = [v for v in values if not _whole(v, low, high)] if isinstance(values, list) else [values]
        if bad:
            problems.append(
                (f"schedule.{key}", f"expected whole numbers from {low} to {high}, got {bad[0]!r}")
            )
    days = schedule.get("week_days") or []
    bad = (
        [d for d in days if not isinstance(d, str) or d.lower() not in WEEK_DAYS]
        if isinstance(days, list)
        else [days]
    )
    if bad:
        problems.append(("schedule.week_days", f"expected day names (monday ... sunday), got {bad[0]!r}"))
    # Azure ML's rules: a pattern refines days, weeks and months; week days need weeks or months.
    if frequency in _ELAPSED and _pattern(trigger):
        message = f"hours, minutes and days apply only with frequency day, week or month, not {frequency}"
        problems.append(("schedule", message))
    elif frequency == "day" and (schedule.get("week_days") or schedule.get("month_days")):
        key = "week_days" if schedule.get("week_days") else "month_days"
        problems.append((f"schedule.{key}", f"{key} apply only with frequency week or month, not day"))
    elif frequency == "week" and schedule.get("month_days"):
        problems.append(("schedule.month_days", "month_days apply only with frequency month, not week"))
    return problems


def _validate_times(trigger: dict) -> list[tuple[str, str]]:
    problems = []
    zone = trigger.get("time_zone") or "UTC"
    try:
        resolve_time_zone(zone if isinstance(zone, str) else repr(zone))
    except ValueError as error:
        problems.append(("time_zone", str(error)))
    times = {}
    for key in ("start_time", "end_time"):
        value = trigger.get(key)
        if value is None:
            continue
        try:
            times[key] = _wall_clock(value, UTC)
        except (TypeError, ValueError):
            problems.append((key, f"expected a date and time like 2026-01-01T04:00:00, got {value!r}"))
    if "start_time" in times and "end_time" in times and times["end_time"] <= times["start_time"]:
        problems.append(
            ("end_time", f"{trigger['end_time']} is not after start_time {trigger['start_time']}")
        )
    return problems


# --- helpers -------------------------------------------------------------------------------------------------


def _pattern(trigger: dict) -> bool:
    schedule = trigger.get("schedule") or {}
    return isinstance(schedule, dict) and any(schedule.get(key) for key in SCHEDULE_KEYS)


def _wall_clock(value: Any, zone: ZoneInfo) -> datetime | None:
    """An ISO date and time as naive wall-clock time in ``zone``; one with an offset is moved into the zone."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def _safe_wall_clock(value: Any) -> datetime | None:
    try:
        return _wall_clock(value, UTC)
    except (TypeError, ValueError):
        return None


def _whole(value: Any, low: int, high: int | None = None) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= low
        and (high is None or value <= high)
    )


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")


def _loose(name: str) -> str:
    return re.sub(r"[\s.]", "", name).lower()


@functools.cache
def _loose_windows_names() -> dict[str, str]:
    # The v1 SDK's TimeZone enum spells names without spaces (PacificStandardTime); match those too.
    return {_loose(windows): iana for windows, iana in win_tz.items()}
