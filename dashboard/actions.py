"""The action path: a view writes an Action, its task carries it out against the backend.

Handlers are plain functions ``handler(action) -> str`` (a result message) registered by kind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from backends.base import BackendError, BackendUnavailable
from dashboard.models import Action

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
HANDLERS: dict[str, str] = {
    Action.Kind.CANCEL_RUN: "runs.actions.perform_cancel",
}


class RetryLater(Exception):
    """The backend was unavailable; the task retries with backoff."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"attempt {attempts}")
        self.attempts = attempts


def action_request(
    *,
    kind: str,
    backend: str,
    target_type: str,
    target_id: str,
    target_label: str,
    user,
    reason: str,
    params=None,
) -> Action:
    """Record the request and enqueue its task once the row is committed."""
    from dashboard.tasks import execute_action

    action = Action.objects.create(
        kind=kind,
        backend=backend,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        requested_by=user,
        reason=reason.strip(),
        params=params or {},
    )
    transaction.on_commit(lambda: execute_action.delay(action.pk))
    return action


def action_perform(action_id: int) -> Action:
    """Carry out one attempt. Idempotent: a finished action is left as it is."""
    claimed = Action.objects.filter(
        pk=action_id, status__in=[Action.Status.PENDING, Action.Status.RUNNING]
    ).update(status=Action.Status.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now())
    action = Action.objects.get(pk=action_id)
    if not claimed:
        return action
    handler: Callable[[Action], str] = import_string(HANDLERS[action.kind])
    try:
        result = handler(action)
    except BackendUnavailable as exc:
        if action.attempts < MAX_ATTEMPTS:
            Action.objects.filter(pk=action_id).update(error=f"Backend unavailable: {exc} (will retry)")
            raise RetryLater(action.attempts) from exc
        return _finish(
            action, Action.Status.FAILED, error=f"Backend unavailable after {action.attempts} attempts: {exc}"
        )
    except BackendError as exc:
        return _finish(action, Action.Status.FAILED, error=str(exc))
    except Exception as exc:
        log.exception("action %s failed", action_id)
        return _finish(action, Action.Status.FAILED, error=f"Unexpected error: {exc}")
    return _finish(action, Action.Status.SUCCEEDED, result=result)


def _finish(action: Action, status: str, *, error: str = "", result: str = "") -> Action:
    Action.objects.filter(pk=action.pk).update(
        status=status, error=error, result=result, finished_at=timezone.now()
    )
    action.refresh_from_db()
    return action
