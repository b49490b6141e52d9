"""Schedule triggers (backends/triggers.py): next fire times, time zones, daylight saving, plain words; no Django."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from backends.trigger_words import describe
from backends.triggers import fire_times, next_fire_times, resolve_time_zone, validate


def at(text: str) -> datetime:
    """An aware UTC datetime from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def shown(times: list[datetime]) -> list[str]:
    return [t.strftime("%Y-%m-%d %H:%M") for t in times]


def cron(
    expression: str, zone: str = "UTC", start: str = "2026-01-01T00:00:00", end: str | None = None
) -> dict:
    return {
        "type": "cron",
        "expression": expression,
        "time_zone": resolve_time_zone(zone).key,
        "time_zone_name": zone,
        "start_time": start,
        "end_time": end,
    }


def recurrence(
    frequency: str,
    interval: int = 1,
    zone: str = "UTC",
    start: str = "2026-01-01T00:00:00",
    end: str | None = None,
    **schedule: list,
) -> dict:
    return {
        "type": "recurrence",
        "frequency": frequency,
        "interval": interval,
        "schedule": {key: schedule.get(key, []) for key in ("hours", "minutes", "week_days", "month_days")},
        "time_zone": resolve_time_zone(zone).key,
        "time_zone_name": zone,
        "start_time": start,
        "end_time": end,
    }


def gaps(times: list[datetime]) -> set[timedelta]:
    return {later - earlier for earlier, later in pairwise(times)}


WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]
CHANGE = {"type": "change", "path": "/data/incoming", "polling_interval": 5}


# --- time zones ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("AUS Eastern Standard Time", "Australia/Sydney"),
        ("UTC", "UTC"),
        ("Coordinated Universal Time", "UTC"),
        ("Europe/Berlin", "Europe/Berlin"),
        ("PacificStandardTime", "America/Los_Angeles"),  # the v1 SDK's TimeZone enum spelling
    ],
)
def test_it_resolves_iana_and_windows_zone_names(name: str, key: str) -> None:
    assert resolve_time_zone(name).key == key


def test_it_resolves_india_standard_time_to_kolkata_time() -> None:
    zone = resolve_time_zone("India Standard Time")

    assert datetime(2026, 1, 1, tzinfo=zone).utcoffset() == timedelta(hours=5, minutes=30)
    assert datetime(2026, 7, 1, tzinfo=zone).utcoffset() == timedelta(hours=5, minutes=30)


def test_it_names_an_unknown_zone() -> None:
    with pytest.raises(ValueError, match="Mars Standard Time"):
        resolve_time_zone("Mars Standard Time")


# --- cron ---------------------------------------------------------------------------------------------------


def test_it_fires_a_weekday_cron_in_pacific_time() -> None:
    trigger = cron("30 4 * * 1-5", "Pacific Standard Time")

    # Friday 2026-05-01 05:00 PDT: that day's 04:30 has passed, so Monday and Tuesday come next.
    assert shown(next_fire_times(trigger, at("2026-05-01 12:00"), 3)) == [
        "2026-05-04 11:30",
        "2026-05-05 11:30",
        "2026-05-06 11:30",
    ]


def test_it_fires_a_nightly_cron_in_berlin_time_summer_and_winter() -> None:
    trigger = cron("30 2 * * *", "W. Europe Standard Time")

    assert shown(next_fire_times(trigger, at("2026-07-01 12:00"), 1)) == ["2026-07-02 00:30"]
    assert shown(next_fire_times(trigger, at("2026-12-01 12:00"), 1)) == ["2026-12-02 01:30"]


def test_it_starts_a_cron_no_earlier_than_its_start_time() -> None:
    trigger = cron("0 * * * *", start="2026-06-01T10:30:00")

    assert shown(next_fire_times(trigger, at("2026-05-01 00:00"), 2)) == [
        "2026-06-01 11:00",
        "2026-06-01 12:00",
    ]


def test_it_fires_a_cron_slot_that_falls_exactly_on_its_start_time() -> None:
    trigger = cron("0 4 * * *", start="2026-06-01T04:00:00")

    assert shown(next_fire_times(trigger, at("2026-05-01 00:00"), 1)) == ["2026-06-01 04:00"]


def test_it_stops_a_cron_at_its_end_time() -> None:
    trigger = cron("0 4 * * *", end="2026-06-03T04:00:00")

    assert shown(next_fire_times(trigger, at("2026-06-01 00:00"), 10)) == [
        "2026-06-01 04:00",
        "2026-06-02 04:00",
        "2026-06-03 04:00",
    ]


# --- recurrences --------------------------------------------------------------------------------------------


def test_it_fires_every_15_minutes_from_the_start_time() -> None:
    trigger = recurrence("minute", 15, start="2026-01-01T00:05:00")

    assert shown(next_fire_times(trigger, at("2026-05-01 12:07"), 3)) == [
        "2026-05-01 12:20",
        "2026-05-01 12:35",
        "2026-05-01 12:50",
    ]


def test_it_fires_a_minute_recurrence_on_its_start_time_when_that_is_still_ahead() -> None:
    trigger = recurrence("minute", 1, start="2026-05-01T12:10:00")

    assert shown(next_fire_times(trigger, at("2026-05-01 12:00"), 2)) == [
        "2026-05-01 12:10",
        "2026-05-01 12:11",
    ]


def test_it_fires_every_hour_at_the_start_times_minute() -> None:
    trigger = recurrence("hour", 1, start="2026-01-01T00:30:00")

    assert shown(next_fire_times(trigger, at("2026-05-01 12:45"), 2)) == [
        "2026-05-01 13:30",
        "2026-05-01 14:30",
    ]


def test_it_fires_every_3_hours_counted_from_the_start_time() -> None:
    trigger = recurrence("hour", 3, start="2026-01-01T01:00:00")

    assert shown(next_fire_times(trigger, at("2026-05-01 12:00"), 3)) == [
        "2026-05-01 13:00",
        "2026-05-01 16:00",
        "2026-05-01 19:00",
    ]


def test_it_fires_a_daily_recurrence_at_every_hour_and_minute_combination() -> None:
    trigger = recurrence("day", hours=[4, 16], minutes=[0, 30])

    assert shown(next_fire_times(trigger, at("2026-05-01 05:00"), 5)) == [
        "2026-05-01 16:00",
        "2026-05-01 16:30",
        "2026-05-02 04:00",
        "2026-05-02 04:30",
        "2026-05-02 16:00",
    ]


def test_it_fires_every_2_days_counted_from_a_start_years_ago() -> None:
    trigger = recurrence("day", 2, start="2023-01-01T00:00:00", hours=[4], minutes=[0])
    start = datetime(2023, 1, 1, tzinfo=UTC)

    times = next_fire_times(trigger, at("2026-05-01 12:00"), 5)

    assert gaps(times) == {timedelta(days=2)}
    assert all((t - start).days % 2 == 0 and t.hour == 4 for t in times)


def test_it_fires_a_daily_recurrence_without_a_pattern_at_the_start_times_clock() -> None:
    trigger = recurrence("day", 1, start="2026-01-01T07:45:00")

    assert shown(next_fire_times(trigger, at("2026-05-01 12:00"), 2)) == [
        "2026-05-02 07:45",
        "2026-05-03 07:45",
    ]


def test_it_fires_on_the_week_days_given() -> None:
    trigger = recurrence("week", hours=[9], minutes=[15], week_days=["monday", "thursday"])

    # 2026-05-01 is a Friday.
    assert shown(next_fire_times(trigger, at("2026-05-01 12:00"), 3)) == [
        "2026-05-04 09:15",
        "2026-05-07 09:15",
        "2026-05-11 09:15",
    ]


def test_it_fires_every_2_weeks_counted_from_the_start_week() -> None:
    trigger = recurrence(
        "week", 2, start="2026-01-05T00:00:00", hours=[9], minutes=[0], week_days=["monday", "thursday"]
    )

    # Weeks of 2026-01-05, 01-19, ...: the week of 2026-05-04 is 17 weeks on, so the week of 05-11 is next.
    assert shown(next_fire_times(trigger, at("2026-05-01 12:00"), 3)) == [
        "2026-05-11 09:00",
        "2026-05-14 09:00",
        "2026-05-25 09:00",
    ]


def test_it_fires_a_weekly_recurrence_without_week_days_on_the_start_times_week_day() -> None:
    trigger = recurrence("week", start="2026-01-07T08:00:00")  # a Wednesday

    assert shown(next_fire_times(trigger, at("2026-05-01 12:00"), 2)) == [
        "2026-05-06 08:00",
        "2026-05-13 08:00",
    ]


def test_it_fires_on_the_month_days_given() -> None:
    trigger = recurrence("month", hours=[6], minutes=[0], month_days=[1, 15])

    assert shown(next_fire_times(trigger, at("2026-05-01 12:00"), 3)) == [
        "2026-05-15 06:00",
        "2026-06-01 06:00",
        "2026-06-15 06:00",
    ]


def test_it_skips_months_without_the_month_day_as_azure_ml_does() -> None:
    trigger = recurrence("month", hours=[0], minutes=[0], month_days=[31])

    assert shown(next_fire_times(trigger, at("2026-01-31 12:00"), 3)) == [
        "2026-03-31 00:00",
        "2026-05-31 00:00",
        "2026-07-31 00:00",
    ]


def test_it_fires_every_3_months_on_the_start_times_day() -> None:
    trigger = recurrence("month", 3, start="2025-11-20T06:00:00")

    assert shown(next_fire_times(trigger, at("2026-05-01 12:00"), 2)) == [
        "2026-05-20 06:00",
        "2026-08-20 06:00",
    ]


def test_it_starts_a_recurrence_no_earlier_than_its_start_time() -> None:
    trigger = recurrence("day", start="2026-06-10T12:00:00", hours=[4, 18], minutes=[0])

    assert shown(next_fire_times(trigger, at("2026-05-01 00:00"), 2)) == [
        "2026-06-10 18:00",
        "2026-06-11 04:00",
    ]


def test_it_stops_a_recurrence_at_its_end_time() -> None:
    daily = recurrence("day", end="2026-05-03T04:00:00", hours=[4], minutes=[0])
    quarterly = recurrence("minute", 15, end="2026-05-01T12:30:00")

    assert shown(next_fire_times(daily, at("2026-05-01 00:00"))) == [
        "2026-05-01 04:00",
        "2026-05-02 04:00",
        "2026-05-03 04:00",
    ]
    assert shown(next_fire_times(quarterly, at("2026-05-01 12:00"))) == [
        "2026-05-01 12:15",
        "2026-05-01 12:30",
    ]


def test_it_fires_in_india_time_all_year() -> None:
    trigger = recurrence("day", zone="India Standard Time", hours=[9], minutes=[0])

    assert shown(next_fire_times(trigger, at("2026-01-10 12:00"), 1)) == ["2026-01-11 03:30"]
    assert shown(next_fire_times(trigger, at("2026-07-10 12:00"), 1)) == ["2026-07-11 03:30"]


def test_it_follows_southern_hemisphere_daylight_saving_in_sydney() -> None:
    trigger = recurrence("day", zone="AUS Eastern Standard Time", hours=[9], minutes=[0])

    assert shown(next_fire_times(trigger, at("2026-01-10 12:00"), 1)) == ["2026-01-10 22:00"]  # AEDT, +11
    assert shown(next_fire_times(trigger, at("2026-07-10 12:00"), 1)) == ["2026-07-10 23:00"]  # AEST, +10


# --- daylight saving ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "trigger",
    [
        recurrence("day", zone="Pacific Standard Time", hours=[2], minutes=[30]),
        cron("30 2 * * *", "Pacific Standard Time"),
    ],
    ids=["recurrence", "cron"],
)
def test_a_daily_0230_pacific_schedule_fires_once_on_both_transition_days(trigger: dict) -> None:
    # 2026-03-08: 02:00 PST jumps to 03:00 PDT, so 02:30 does not exist and fires at 03:30 PDT.
    spring = fire_times(trigger, at("2026-03-07 12:00"), at("2026-03-09 12:00"))
    # 2026-11-01: 02:00 PDT falls back to 01:00 PST; 02:30 happens once, in PST.
    autumn = fire_times(trigger, at("2026-10-31 12:00"), at("2026-11-02 12:00"))

    assert shown(spring) == ["2026-03-08 10:30", "2026-03-09 09:30"]
    assert shown(autumn) == ["2026-11-01 10:30", "2026-11-02 10:30"]


def test_a_daily_0130_pacific_schedule_fires_once_in_the_repeated_hour_the_first_time() -> None:
    trigger = recurrence("day", zone="Pacific Standard Time", hours=[1], minutes=[30])

    # 01:30 happens twice on 2026-11-01: at 08:30 UTC (PDT) and 09:30 UTC (PST). It fires at the first.
    assert shown(fire_times(trigger, at("2026-10-31 12:00"), at("2026-11-02 12:00"))) == [
        "2026-11-01 08:30",
        "2026-11-02 09:30",
    ]


def test_a_daily_0230_sydney_schedule_fires_once_on_both_transition_days() -> None:
    trigger = recurrence("day", zone="AUS Eastern Standard Time", hours=[2], minutes=[30])

    # 2026-04-05: 03:00 AEDT falls back to 02:00 AEST, 02:30 happens twice: the first (AEDT) fires.
    autumn = fire_times(trigger, at("2026-04-04 12:00"), at("2026-04-05 12:00"))
    # 2026-10-04: 02:00 AEST jumps to 03:00 AEDT: 02:30 fires at 03:30 AEDT.
    spring = fire_times(trigger, at("2026-10-03 12:00"), at("2026-10-04 12:00"))

    assert shown(autumn) == ["2026-04-04 15:30"]
    assert shown(spring) == ["2026-10-03 16:30"]


@pytest.mark.parametrize(
    "trigger",
    [recurrence("minute", 15, zone="Pacific Standard Time"), cron("*/15 * * * *", "Pacific Standard Time")],
    ids=["recurrence", "cron"],
)
@pytest.mark.parametrize(
    ("after", "until"),
    [("2026-03-08 08:00", "2026-03-08 12:00"), ("2026-11-01 07:00", "2026-11-01 11:00")],
    ids=["spring", "autumn"],
)
def test_an_every_15_minutes_schedule_keeps_15_real_minutes_across_transitions(
    trigger: dict, after: str, until: str
) -> None:
    times = fire_times(trigger, at(after), at(until))

    assert len(times) == 16  # four hours of quarter hours: no duplicate, no hole
    assert len(set(times)) == len(times)
    assert gaps(times) == {timedelta(minutes=15)}


def test_an_hourly_cron_fires_in_both_passes_of_the_repeated_hour() -> None:
    trigger = cron("30 * * * *", "Pacific Standard Time")

    assert shown(fire_times(trigger, at("2026-11-01 07:00"), at("2026-11-01 11:00"))) == [
        "2026-11-01 07:30",  # 00:30 PDT
        "2026-11-01 08:30",  # 01:30 PDT
        "2026-11-01 09:30",  # 01:30 PST
        "2026-11-01 10:30",  # 02:30 PST
    ]


# --- downtime, limits, speed --------------------------------------------------------------------------------


def test_it_lists_every_slot_missed_over_a_week_of_downtime() -> None:
    quarterly = recurrence("minute", 15)
    mornings = recurrence(
        "week", zone="Pacific Standard Time", hours=[4], minutes=[0, 30], week_days=WEEKDAYS
    )

    assert len(fire_times(quarterly, at("2026-05-04 00:00"), at("2026-05-11 00:00"))) == 7 * 96
    assert len(fire_times(mornings, at("2026-05-04 00:00"), at("2026-05-11 00:00"))) == 5 * 2


def test_it_returns_no_more_than_the_limit_and_the_earliest_first() -> None:
    trigger = cron("* * * * *")

    times = fire_times(trigger, at("2026-05-01 00:00"), at("2026-05-08 00:00"), limit=5)

    assert shown(times) == [f"2026-05-01 00:0{m}" for m in range(1, 6)]


def test_it_counts_slots_strictly_after_and_up_to_and_including_until() -> None:
    trigger = recurrence("hour")

    assert shown(fire_times(trigger, at("2026-05-01 01:00"), at("2026-05-01 03:00"))) == [
        "2026-05-01 02:00",
        "2026-05-01 03:00",
    ]


@pytest.mark.parametrize(
    "trigger",
    [
        recurrence("minute", 1, start="2023-05-01T00:00:00"),
        cron("* * * * *", start="2023-05-01T00:00:00"),
        recurrence("day", start="2023-05-01T00:00:00", hours=list(range(24)), minutes=[0, 30]),
    ],
    ids=["every-minute-recurrence", "every-minute-cron", "48-a-day-recurrence"],
)
def test_next_fire_times_is_fast_for_a_schedule_started_3_years_ago(trigger: dict) -> None:
    now = at("2026-05-01 12:00")
    began = time.perf_counter()

    times = next_fire_times(trigger, now, 10)

    assert time.perf_counter() - began < 0.05
    assert len(times) == 10 and times[0] > now


def test_a_change_trigger_has_no_slots() -> None:
    assert fire_times(CHANGE, at("2026-05-01 00:00"), at("2026-05-08 00:00")) == []
    assert next_fire_times(CHANGE, at("2026-05-01 00:00")) == []


def test_it_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_times(recurrence("hour"), datetime(2026, 5, 1))


# --- plain words --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "words"),
    [
        (recurrence("minute", 15), "every 15 minutes"),
        (recurrence("minute", 1), "every minute"),
        (recurrence("hour", 1, start="2026-01-01T00:30:00"), "every hour at :30"),
        (recurrence("hour", 6, start="2026-01-01T01:00:00"), "every 6 hours from 01:00"),
        (recurrence("day", hours=[4], minutes=[0]), "every day at 04:00, UTC"),
        (recurrence("day", 2, hours=[4], minutes=[0]), "every 2 days at 04:00, UTC"),
        (
            recurrence("week", zone="Pacific Standard Time", hours=[4], minutes=[0, 30], week_days=WEEKDAYS),
            "weekdays at 04:00 and 04:30, Pacific time",
        ),
        (
            recurrence(
                "week",
                zone="W. Europe Standard Time",
                hours=[9],
                minutes=[15],
                week_days=["thursday", "monday"],
            ),
            "every Monday and Thursday at 09:15, W. Europe time",
        ),
        (
            recurrence("week", 2, hours=[9], minutes=[0], week_days=["saturday", "sunday"]),
            "every 2 weeks on weekends at 09:00, UTC",
        ),
        (
            recurrence("month", hours=[6], minutes=[0], month_days=[15, 1]),
            "on day 1 and 15 of every month at 06:00, UTC",
        ),
        (
            recurrence("day", zone="Europe/Berlin", hours=[4], minutes=[0]),
            "every day at 04:00, Europe/Berlin time",
        ),
        (cron("30 4 * * 1-5", "Pacific Standard Time"), "weekdays at 04:30, Pacific time"),
        (cron("30 2 * * *", "W. Europe Standard Time"), "every day at 02:30, W. Europe time"),
        # Cron reads as recurrences do, whatever form wrote it.
        (cron("*/15 * * * *", "UTC"), "every 15 minutes, UTC"),
        (cron("5 * * * *", "UTC"), "every hour at :05, UTC"),
        (cron("0 */6 * * *", "UTC"), "every 6 hours at :00, UTC"),
        (cron("0,30 9 * * 6,0", "UTC"), "weekends at 09:00 and 09:30, UTC"),
        (cron("15 10 * * 1,3", "UTC"), "every Monday and Wednesday at 10:15, UTC"),
        (cron("0 6 1,15 * *", "UTC"), "on day 1 and 15 of every month at 06:00, UTC"),
        (cron("0 6 * 1 *", "UTC"), "At 06:00, only in January, UTC"),  # too intricate to say so: cron's words
        (
            recurrence("day", hours=[4], minutes=[0], end="2027-01-01T00:00:00"),
            "every day at 04:00, UTC, until 2027-01-01 00:00",
        ),
        (CHANGE, "when a file is added or changed in /data/incoming (checked every 5 minutes)"),
        (
            {**CHANGE, "polling_interval": 1},
            "when a file is added or changed in /data/incoming (checked every minute)",
        ),
    ],
)
def test_it_describes_triggers_in_plain_words(trigger: dict, words: str) -> None:
    assert describe(trigger) == words


def test_it_names_the_zone_of_utc_triggers_as_utc_however_written() -> None:
    for name in ("UTC", "Coordinated Universal Time", "Etc/UTC"):
        assert describe(recurrence("day", zone=name, hours=[4], minutes=[0])).endswith(", UTC")


# --- checks -------------------------------------------------------------------------------------------------


def test_it_finds_no_problem_in_good_triggers() -> None:
    assert validate(cron("30 4 * * 1-5", "Pacific Standard Time")) == []
    assert validate(recurrence("week", hours=[4], minutes=[0, 30], week_days=WEEKDAYS)) == []
    assert validate(CHANGE) == []


@pytest.mark.parametrize(
    ("trigger", "field", "words"),
    [
        ({"type": "hourly"}, "type", "unknown trigger type 'hourly'"),
        (cron("61 4 * * *"), "expression", "not a valid cron expression"),
        (cron("0 0 4 * * *"), "expression", "has 6 fields"),
        (cron("0 4 1 * *"), "expression", "ignores the days and months"),
        (recurrence("fortnight"), "frequency", "expected one of minute, hour, day, week, month"),
        (recurrence("day", 0), "interval", "1 or more"),
        (recurrence("day", hours=[24], minutes=[0]), "schedule.hours", "from 0 to 23, got 24"),
        (recurrence("day", hours=[4], minutes=[-1]), "schedule.minutes", "from 0 to 59, got -1"),
        (
            recurrence("week", hours=[4], minutes=[0], week_days=["Moonday"]),
            "schedule.week_days",
            "'Moonday'",
        ),
        (recurrence("month", hours=[4], minutes=[0], month_days=[32]), "schedule.month_days", "from 1 to 31"),
        (recurrence("minute", 5, hours=[4]), "schedule", "only with frequency day, week or month"),
        (recurrence("day", hours=[4], minutes=[0], week_days=["monday"]), "schedule.week_days", "not day"),
        ({**recurrence("day"), "time_zone": "Mars/Olympus"}, "time_zone", "unknown time zone 'Mars/Olympus'"),
        (recurrence("day", end="2025-01-01T00:00:00"), "end_time", "is not after start_time"),
        ({**recurrence("day"), "start_time": "first of May"}, "start_time", "expected a date and time"),
        ({**CHANGE, "polling_interval": 0}, "polling_interval", "1 or more"),
    ],
)
def test_it_reports_each_bad_trigger_field(trigger: dict, field: str, words: str) -> None:
    problems = validate(trigger)

    assert [f for f, _ in problems] == [field]
    assert words in problems[0][1]
