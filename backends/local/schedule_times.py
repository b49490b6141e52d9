"""The pieces of a schedule's trigger both forms share: frequency, interval, the hours, minutes and week days it
fires at, its time zone, start and end. Pure Python."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from backends import triggers
from backends.local.checked import (
    CheckedLoader,
    line_of,
    plain,
    to_plain,
)

_SCHEDULE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})")


class TriggerReading(CheckedLoader):
    """Expects ``self.now`` (what "now" is for a start time left out)."""

    def time_of_day(self, node: dict) -> tuple[list[int], list[int]]:
        value = plain(node["time_of_day"])
        match = _TIME_OF_DAY.fullmatch(str(value).strip())
        if match and int(match[1]) < 24 and int(match[2]) < 60:
            return [int(match[1])], [int(match[2])]
        message = f'expected a time of day as hh:mm in quotes, e.g. "04:30", got {value!r}'
        self.problem(line_of(node, "time_of_day"), "recurrence.time_of_day", message)
        return [], []

    def name(self, doc: dict) -> str:
        name = self.text(doc, "name", "")
        if not name:
            if "name" not in self.reported:
                self.problem(line_of(doc, "name"), "name", "missing: the schedule's name")
        elif not _SCHEDULE_NAME.fullmatch(name):
            message = f"{name!r} is not a schedule name (letters, digits, -, _ and .; no spaces)"
            self.problem(line_of(doc, "name"), "name", message)
        return name

    def frequency(self, node: dict, prefix: str, line: int) -> str | None:
        value = self.text(node, "frequency", None, prefix)
        if value is None:
            if f"{prefix}frequency" not in self.reported:
                self.problem(line, f"{prefix}frequency", f"missing: one of {', '.join(triggers.FREQUENCIES)}")
            return None
        return value.lower()  # the v1 SDK writes Day, the CLI day

    def interval(self, node: dict, prefix: str, line: int) -> int | None:
        if node.get("interval") is None:
            self.problem(line, f"{prefix}interval", "missing: how many frequency units between runs, e.g. 1")
            return None
        return self.integer(node, "interval", prefix)

    def pattern_lists(self, node: dict, prefix: str, keys: tuple = triggers.SCHEDULE_KEYS) -> dict[str, list]:
        """hours, minutes, month_days (numbers) and week_days (lower-case names), each one value or a list."""
        pattern = {}
        for key in keys:
            raw = to_plain(node.get(key))
            if raw is None:
                continue
            values = raw if isinstance(raw, list) else [raw]
            if key == "week_days":
                if all(isinstance(v, str) for v in values):
                    pattern[key] = [v.strip().lower() for v in values]
                    continue
                wanted = "day names, e.g. [monday, friday]"
            elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                pattern[key] = values
                continue
            else:
                wanted = "whole numbers, e.g. [0, 30]"
            self.problem(line_of(node, key), f"{prefix}{key}", f"expected {wanted}, got {raw!r}")
        return pattern

    def zone_and_times(self, trigger: dict, node: dict, prefix: str, with_end: bool) -> None:
        name = self.text(node, "time_zone", "UTC", prefix)
        try:
            zone = triggers.resolve_time_zone(name)
            trigger["time_zone"] = zone.key
        except ValueError:
            zone, trigger["time_zone"] = UTC, name  # check_trigger reports it
        trigger["time_zone_name"] = name
        for key in ("start_time", "end_time") if with_end else ("start_time",):
            trigger[key] = self.wall_clock(node, key, prefix, zone)
        if trigger["start_time"] is None and f"{prefix}start_time" not in self.reported:
            # Azure ML starts a schedule without start_time when it is created.
            start = self.now.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
            trigger["start_time"] = start.isoformat()
        trigger.setdefault("end_time", None)

    def wall_clock(self, node: dict, key: str, prefix: str, zone: Any) -> str | None:
        raw = node.get(key)
        if raw is None:
            return None
        try:
            moment = datetime.fromisoformat(str(raw).strip())
        except ValueError:
            message = f'expected a date and time like "2026-01-01T04:00:00", got {plain(raw)!r}'
            self.problem(line_of(node, key), f"{prefix}{key}", message)
            return None
        if moment.tzinfo is not None:  # "2026-01-01T04:00:00-04:00": that moment, on the schedule's clock
            moment = moment.astimezone(zone).replace(tzinfo=None)
        return moment.replace(microsecond=0).isoformat()

    def check_trigger(self, trigger: dict, places: dict, line: int, where: str) -> None:
        """triggers.validate's problems, each at the line of the key it is about."""
        for key, message in triggers.validate(trigger):
            shown, at = places.get(key) or places.get(key.partition(".")[0]) or (f"{where}.{key}", line)
            if shown not in self.reported:
                self.problem(at, shown, message)
