"""What the overview reads besides runs, at a busy deployment's scale: schedules and two weeks of their fires, a
year of actions, and the backend's sync state. bench/seed.py calls it after the runs, and again on a database
seeded before these were added (it does nothing when schedules exist)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

SCHEDULES = 120
FIRE_DAYS = 14
ACTIONS = 20_000
BACKEND = "local"


def _trigger(kind: str, minute: int, hour: int, start: datetime) -> dict:
    base = {"time_zone": "UTC", "time_zone_name": "UTC", "start_time": start.isoformat(), "end_time": None}
    if kind == "quarter-hour":
        return {**base, "type": "recurrence", "frequency": "minute", "interval": 15, "schedule": {}}
    if kind == "hourly":
        return {**base, "type": "cron", "expression": f"{minute} * * * *"}
    if kind == "daily":
        return {**base, "type": "cron", "expression": f"{minute} {hour} * * *"}
    return {**base, "type": "cron", "expression": f"{minute} {hour} * * 1-5"}  # weekdays


def seed_overview_rows(now: datetime, rng: random.Random) -> dict[str, int]:
    """Schedules of every kind (a tenth disabled), their fires over FIRE_DAYS (3% failed, 2% skipped), ACTIONS
    actions over a year (3% failed, a few still under way) and a healthy sync state. Returns what it made."""
    from backends import triggers
    from dashboard.models import Action, BackendState
    from runs.models import Pipeline
    from schedules.models import Schedule, ScheduleFire

    if Schedule.objects.exists():
        return {}
    pipelines = list(Pipeline.objects.order_by("pk").values_list("pk", "name"))
    start = (now - timedelta(days=400)).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    kinds = ["quarter-hour"] * 2 + ["hourly"] * 4 + ["daily"] * 4 + ["weekdays"] * 2
    schedules = []
    for i in range(SCHEDULES):
        pipeline_pk, pipeline_name = pipelines[i % len(pipelines)]
        kind = kinds[i % len(kinds)]
        schedules.append(
            Schedule(
                backend=BACKEND,
                external_id=f"bench-schedule-{i:03d}",
                name=f"{pipeline_name}-{kind}-{i:03d}",
                enabled=i % 10 != 9,
                trigger=_trigger(kind, rng.randrange(60), rng.randrange(24), start),
                kind="cron" if kind != "quarter-hour" else "recurrence",
                pipeline_id=pipeline_pk,
                target_label=pipeline_name,
                experiment_name=pipeline_name,
                created_at=now - timedelta(days=400),
            )
        )
    Schedule.objects.bulk_create(schedules)
    fires = []
    since = now - timedelta(days=FIRE_DAYS)
    for schedule in Schedule.objects.filter(backend=BACKEND):
        for when in triggers.fire_times(schedule.trigger, after=since, until=now, limit=100_000):
            r = rng.random()
            status = (
                ScheduleFire.FAILED if r < 0.03 else ScheduleFire.SKIPPED if r < 0.05 else ScheduleFire.FIRED
            )
            fires.append(
                ScheduleFire(
                    schedule=schedule,
                    fire_time=when,
                    status=status,
                    run_external_id=f"{schedule.external_id}-{when:%Y%m%d%H%M}" if status == "Fired" else "",
                    reason={
                        "Failed": "the pipeline was disabled",
                        "Skipped": "the previous run was still going",
                    }.get(status, ""),
                )
            )
    ScheduleFire.objects.bulk_create(fires, batch_size=5000)
    actions = []
    year = timedelta(days=365).total_seconds()
    for i in range(ACTIONS):
        requested = now - timedelta(seconds=year * (1 - i / ACTIONS) + rng.random() * 60)
        r = rng.random()
        if i >= ACTIONS - 3:
            status = Action.Status.PENDING if i % 2 else Action.Status.RUNNING
        else:
            status = Action.Status.FAILED if r < 0.03 else Action.Status.SUCCEEDED
        actions.append(
            Action(
                kind=Action.Kind.CANCEL_RUN if r < 0.8 else Action.Kind.RESUBMIT_RUN,
                backend=BACKEND,
                target_type="run",
                target_id=f"bench-action-target-{i}",
                target_label=f"run {i}",
                reason="wrong input data" if i % 7 == 0 else "",
                status=status,
                attempts=1,
                error="the backend refused: run already finished" if status == Action.Status.FAILED else "",
                requested_at=requested,
                started_at=requested + timedelta(seconds=1),
                finished_at=requested + timedelta(seconds=3) if status in Action.FINISHED else None,
            )
        )
    Action.objects.bulk_create(actions, batch_size=5000)
    BackendState.objects.update_or_create(
        name=BACKEND,
        defaults={
            "healthy": True,
            "last_sync_at": now,
            "last_success_at": now,
            "watermark": now.astimezone(UTC),
        },
    )
    return {"schedules": len(schedules), "fires": len(fires), "actions": len(actions)}
