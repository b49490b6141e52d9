"""Disabling and enabling schedules through the action path."""

from __future__ import annotations

from backends.registry import get_backend
from dashboard.actions import action_on
from dashboard.models import Action
from schedules.models import Schedule
from schedules.sync import mirror_schedule


def schedule_set_enabled(*, schedule: Schedule, user, enabled: bool, reason: str = "") -> Action:
    kind = Action.Kind.ENABLE_SCHEDULE if enabled else Action.Kind.DISABLE_SCHEDULE
    params = {"enabled": enabled}
    return action_on(schedule, kind=kind, target_type="schedule", user=user, reason=reason, params=params)


def perform_set_schedule_enabled(action: Action) -> str:
    backend = get_backend(action.backend)
    info = backend.set_schedule_enabled(action.target_id, bool(action.params["enabled"]))
    schedule = mirror_schedule(backend, info)
    return f"{schedule} is {schedule.status}."
