"""The local engine's schedules: register them from YAML, fire the due ones exactly once, watch folders.

A beat task calls ``fire_due_schedules`` every few seconds, maybe from several beat processes at once. Each
slot is claimed by inserting its (schedule, fire time) row, unique in the database: the one insert that
succeeds starts the run, the others do nothing. After downtime the latest missed slot fires once and the
earlier ones are recorded as skipped.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from backends.base import FireStatus
from backends.local import config as local_config
from backends.local.models import LocalPublishedPipeline, LocalSchedule, LocalScheduleFire
from backends.local.schedule_spec import ScheduleSpec, load_schedule
from backends.local.spec import PipelineSpec, SpecError
from backends.triggers import fire_times

log = logging.getLogger(__name__)

CATCH_UP_CHUNK = 10_000
SKIPS_RECORDED = 1_000  # after a long downtime, the most recent missed slots are kept as skipped fires


def register_schedule_file(path: Path | str, now: datetime | None = None) -> LocalSchedule:
    """Create or update a schedule from its YAML (raising SpecError when invalid)."""
    now = now or timezone.now()
    spec = load_schedule(path, now, local_config.current())
    pipeline = None
    if spec.pipeline is not None:
        from backends.local.submission import register_pipeline_spec

        pipeline = register_pipeline_spec(spec.pipeline)
    defaults = {
        "display_name": spec.display_name,
        "description": spec.description,
        "tags": spec.tags,
        "trigger": spec.trigger,
        "spec": spec.to_dict(),
        "pipeline": pipeline,
        "published_ref": spec.published,
        "source": spec.path,
        "definition": spec.text,
    }
    with transaction.atomic():
        schedule, created = LocalSchedule.objects.select_for_update().get_or_create(
            pk=spec.name,
            defaults={
                **defaults,
                "enabled": spec.enabled,
                "last_slot": now,
                "watch_state": _watched(spec.trigger),
            },
        )
        if not created:
            # Re-creating a schedule updates its definition; its place in time and its switch stay.
            for field, value in defaults.items():
                setattr(schedule, field, value)
            schedule.save()
    return schedule


def set_enabled(schedule: LocalSchedule, enabled: bool, now: datetime | None = None) -> LocalSchedule:
    now = now or timezone.now()
    fields: dict[str, Any] = {"enabled": enabled, "updated_at": now}
    if enabled and not schedule.enabled:
        # Slots that passed while it was off are not owed; files changed meanwhile are the new normal.
        fields.update(last_slot=now, next_poll_at=None, watch_state=_watched(schedule.trigger))
    LocalSchedule.objects.filter(pk=schedule.pk).update(**fields)
    schedule.refresh_from_db()
    return schedule


def enabled_schedules_using(published: LocalPublishedPipeline) -> list[str]:
    return list(
        LocalSchedule.objects.filter(enabled=True)
        .filter(Q(published_ref=published.pk) | Q(published_ref=published.name))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- firing ---------------------------------------------------------------------------------


def fire_due_schedules(now: datetime | None = None) -> list[LocalScheduleFire]:
    now = now or timezone.now()
    fired: list[LocalScheduleFire] = []
    for schedule in LocalSchedule.objects.filter(enabled=True).order_by("pk"):
        try:
            if schedule.trigger.get("type") == "change":
                fired += _poll_folder(schedule, now)
            else:
                fired += _fire_slots(schedule, now)
        except Exception:  # one broken schedule must not stop the others
            log.exception("schedule %s could not fire", schedule.pk)
    return fired


def _fire_slots(schedule: LocalSchedule, now: datetime) -> list[LocalScheduleFire]:
    # After a long downtime there may be many slots: count them all, keep the latest few.
    kept: list[datetime] = []
    after, total = schedule.last_slot, 0
    while True:
        chunk = fire_times(schedule.trigger, after=after, until=now, limit=CATCH_UP_CHUNK)
        total += len(chunk)
        kept = (kept + chunk)[-(SKIPS_RECORDED + 1) :]
        if len(chunk) < CATCH_UP_CHUNK:
            break
        after = chunk[-1]
    if not kept:
        return []
    latest, skipped = kept[-1], kept[:-1]
    reason = ""
    if total > 1:
        missed = total - 1
        reason = f"Caught up after downtime: {missed} earlier slot{'s' if missed != 1 else ''} skipped, fired once."
    fire = _claim(schedule, latest, reason=reason)
    if fire is None:
        return []  # another beat process has this slot
    LocalScheduleFire.objects.bulk_create(
        [
            LocalScheduleFire(
                schedule=schedule,
                fire_time=slot,
                status=FireStatus.SKIPPED,
                reason=f"Missed while the scheduler was not running; fired once at {latest:%Y-%m-%d %H:%M} UTC.",
            )
            for slot in skipped
        ],
        ignore_conflicts=True,
    )
    LocalSchedule.objects.filter(pk=schedule.pk, last_slot__lt=latest).update(last_slot=latest)
    _start_run(schedule, fire)
    return [fire]


def _poll_folder(schedule: LocalSchedule, now: datetime) -> list[LocalScheduleFire]:
    if schedule.next_poll_at and now < schedule.next_poll_at:
        return []
    interval = timedelta(minutes=schedule.trigger.get("polling_interval", 5))
    slot = schedule.next_poll_at or now
    # Compare-and-swap on next_poll_at: of two beat processes polling together, one goes on.
    same_poll = (
        Q(next_poll_at=schedule.next_poll_at) if schedule.next_poll_at else Q(next_poll_at__isnull=True)
    )
    if not LocalSchedule.objects.filter(same_poll, pk=schedule.pk).update(next_poll_at=now + interval):
        return []
    current = _watched(schedule.trigger)
    changed = sorted(
        name for name, signature in current.items() if schedule.watch_state.get(name) != signature
    )
    LocalSchedule.objects.filter(pk=schedule.pk).update(watch_state=current)
    fires = []
    for name in changed:
        path = os.path.join(schedule.trigger["path"], name)
        fire = _claim(schedule, slot, trigger_path=path, reason=f"{path} was added or changed.")
        if fire is not None:
            _start_run(schedule, fire)
            fires.append(fire)
    return fires


def _watched(trigger: dict) -> dict[str, list[int]]:
    """The files directly in a change trigger's folder (not its subfolders, as Azure ML) and their signatures."""
    if trigger.get("type") != "change":
        return {}
    try:
        entries = list(os.scandir(trigger["path"]))
    except FileNotFoundError:
        return {}
    return {
        e.name: [e.stat().st_mtime_ns, e.stat().st_size]
        for e in entries
        if e.is_file(follow_symlinks=False) and not e.name.startswith(".")
    }


def _claim(schedule: LocalSchedule, fire_time: datetime, *, trigger_path: str = "", reason: str = ""):
    try:
        with transaction.atomic():
            return LocalScheduleFire.objects.create(
                schedule=schedule,
                fire_time=fire_time,
                trigger_path=trigger_path,
                status=FireStatus.FIRED,
                reason=reason,
            )
    except IntegrityError:
        return None


def _start_run(schedule: LocalSchedule, fire: LocalScheduleFire) -> None:
    from backends.local.submission import submit_spec

    spec = ScheduleSpec.from_dict(schedule.spec)
    try:
        pipeline_spec, published, parameters = _what_to_run(schedule, spec, fire)
        run = submit_spec(
            pipeline_spec,
            pipeline=schedule.pipeline or (published.pipeline if published else None),
            published=published,
            parameters=parameters,
            experiment=spec.experiment_name,
            submitted_by=f"schedule {schedule.pk}",
        )
    except (SpecError, LookupError) as exc:
        fire.status, fire.reason = FireStatus.FAILED, f"{fire.reason} No run started: {exc}".strip()
        fire.save(update_fields=["status", "reason", "updated_at"])
        return
    fire.run = run
    fire.save(update_fields=["run", "updated_at"])


def missing_target(schedule: LocalSchedule) -> str:
    """What the schedule runs that the engine no longer has, in words; "" when it has everything."""
    if schedule.published_ref:
        found = LocalPublishedPipeline.objects.filter(
            Q(pk=schedule.published_ref) | Q(name=schedule.published_ref)
        ).exists()
        return "" if found else f"published pipeline '{schedule.published_ref}' does not exist"
    jobs = (schedule.spec.get("pipeline") or {}).get("jobs") or {}
    gone = sorted(
        {job["code"] for job in jobs.values() if job.get("code") and not os.path.isdir(job["code"])}
    )
    if gone:
        return f"the code folder of its pipeline is gone: {gone[0]}"
    return ""


def _what_to_run(
    schedule: LocalSchedule, spec: ScheduleSpec, fire: LocalScheduleFire
) -> tuple[PipelineSpec, LocalPublishedPipeline | None, dict[str, Any]]:
    published = None
    if spec.published:
        published = (
            LocalPublishedPipeline.objects.filter(Q(pk=spec.published) | Q(name=spec.published))
            .select_related("pipeline")
            .order_by("-created_at")
            .first()
        )
        if published is None:
            raise LookupError(f"no published pipeline named {spec.published!r}")
        if published.status != "Active":
            raise LookupError(f"published pipeline {published.name} is disabled")
        pipeline_spec = PipelineSpec.from_dict(published.spec)
    else:
        pipeline_spec = spec.pipeline
    if spec.continue_on_step_failure is not None:
        pipeline_spec = dataclasses.replace(
            pipeline_spec, continue_on_step_failure=spec.continue_on_step_failure
        )
    parameters = spec.run_parameters(
        fire.fire_time, job_name=schedule.pk, changed_path=fire.trigger_path or None
    )
    return pipeline_spec, published, parameters


def fire_info_fields(fire: LocalScheduleFire) -> dict[str, Any]:
    return {
        "schedule_id": fire.schedule_id,
        "fire_time": fire.fire_time,
        "status": fire.status,
        "trigger_path": fire.trigger_path,
        "run_id": fire.run_id or "",
        "reason": fire.reason,
        "updated_at": fire.updated_at,
    }
