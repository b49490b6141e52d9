"""The action path: a view writes an Action, its task carries it out against the backend.

The Action row is the source of truth. A task claims it by moving it from pending to running (a conditional
update, so a duplicate message does nothing), calls the handler for its kind, and records the outcome.
Handlers are plain functions ``handler(action) -> str`` (a result message) registered by kind; they may fill
``action.outcome`` with what they made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from backends.base import BackendError, BackendUnavailable
from dashboard.logs import log_context
from dashboard.models import NOT_SENT_PREFIX, Action
from dashboard.public import public_message

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# A pending action older than this was lost on its way to a worker (e.g. Redis restarted without it).
PENDING_TOO_LONG = timedelta(seconds=60)
# A running action older than this lost its worker: the task's hard time limit is shorter.
RUNNING_TOO_LONG = timedelta(minutes=5)
REQUEUE_BATCH = 1000  # a pass's share; the next pass takes the rest
HANDLERS: dict[str, str] = {
    Action.Kind.CANCEL_RUN: "runs.actions.perform_cancel",
    Action.Kind.RESUBMIT_RUN: "runs.actions.perform_resubmit",
    Action.Kind.PUBLISH_PIPELINE: "runs.actions.perform_publish",
    Action.Kind.SUBMIT_PUBLISHED: "runs.actions.perform_submit_published",
    Action.Kind.SUBMIT_PIPELINE: "runs.actions.perform_submit_pipeline",
    Action.Kind.DISABLE_PUBLISHED: "runs.actions.perform_set_published_enabled",
    Action.Kind.ENABLE_PUBLISHED: "runs.actions.perform_set_published_enabled",
    Action.Kind.DISABLE_SCHEDULE: "schedules.actions.perform_set_schedule_enabled",
    Action.Kind.ENABLE_SCHEDULE: "schedules.actions.perform_set_schedule_enabled",
    Action.Kind.CHECK_BACKEND: "dashboard.backend_views.perform_check",
    Action.Kind.REMOVE_ENVIRONMENT: "dashboard.environment_views.perform_remove",
}


class RetryLater(Exception):
    """The backend was unavailable; the task retries after ``countdown`` seconds."""

    def __init__(self, attempts: int, countdown: int) -> None:
        super().__init__(f"attempt {attempts}")
        self.attempts = attempts
        self.countdown = countdown


def action_record(
    *,
    kind: str,
    backend: str,
    target_type: str,
    target_id: str,
    target_label: str = "",
    user,
    reason: str = "",
    params: dict | None = None,
) -> Action:
    return Action.objects.create(
        kind=kind,
        backend=backend,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label[:255],
        requested_by=user,
        reason=reason.strip(),
        params=params or {},
    )


def action_request(**fields) -> Action:
    """Record the request and enqueue its task once the row is committed."""
    action = action_record(**fields)
    transaction.on_commit(lambda: _enqueue(action.pk))
    return action


def action_on(
    target,
    *,
    kind: str,
    target_type: str,
    user,
    reason: str = "",
    params: dict | None = None,
    enqueue: bool = True,
) -> Action:
    """An action on a mirrored object (anything with ``backend`` and ``external_id``)."""
    record = action_request if enqueue else action_record
    return record(
        kind=kind,
        backend=target.backend,
        target_type=target_type,
        target_id=target.external_id,
        target_label=str(target),
        user=user,
        reason=reason,
        params=params,
    )


def attach_unfinished(target_type: str, targets: Iterable) -> None:
    """Set ``pending_action`` on each target (mirrored objects with ``backend`` and ``external_id``): its latest
    unfinished action, or None; then read the targets' fields again. Two queries, bounded by the targets given (a
    page's rows).

    Why again: the targets were read before their actions. An action that finished in between is not unfinished,
    and its change is already in the mirror (an action mirrors its target before it is marked finished), but not in
    the rows read before it: the page would show the old state with nothing under way, and stop following it. Read
    after the actions, the rows are at least as new as what the actions say."""
    targets = list(targets)
    for target in targets:
        target.pending_action = None
    if not targets:
        return
    by_key = {(t.backend, t.external_id): t for t in targets}
    unfinished = Action.objects.filter(
        target_type=target_type,
        backend__in={t.backend for t in targets},
        target_id__in={t.external_id for t in targets},
        status__in=(Action.Status.PENDING, Action.Status.RUNNING),
    ).order_by("requested_at", "id")
    for action in unfinished:
        target = by_key.get((action.backend, action.target_id))
        if target is not None:
            target.pending_action = action  # the latest wins
    read_again(targets)


def read_again(rows: list) -> None:
    """Read again the fields each of ``rows`` (model instances of one model) was loaded with, in one query."""
    if not rows:
        return
    model = type(rows[0])
    fields = [
        f.attname for f in model._meta.concrete_fields if f.attname not in rows[0].get_deferred_fields()
    ]
    fresh = {
        row["pk"]: row
        for row in model._default_manager.filter(pk__in=[r.pk for r in rows]).values("pk", *fields)
    }
    for row in rows:
        for name, value in fresh.get(row.pk, {}).items():
            if name != "pk":
                setattr(row, name, value)


NOT_SENT = f"{NOT_SENT_PREFIX} (Redis) did not answer; this action is sent to the workers when it does."


def _enqueue(action_id: int, countdown: int = 0) -> bool:
    """Send the action's task, giving up after the queue's timeout: the action stays pending, says why, and
    ``requeue_stale_actions`` sends it when the queue answers again. Never an error for the request."""
    from dashboard.tasks import execute_action

    try:
        execute_action.apply_async((action_id,), countdown=countdown, retry=False)
    except Exception as exc:  # kombu's OperationalError, redis-py's timeouts, a refused connection
        log.warning("action %s not sent, the task queue did not answer: %r", action_id, exc)
        Action.objects.filter(pk=action_id, status=Action.Status.PENDING).update(error=NOT_SENT)
        return False
    return True


def _claim(action_id: int) -> Action | None:
    now = timezone.now()
    claimed = Action.objects.filter(pk=action_id, status=Action.Status.PENDING).update(
        status=Action.Status.RUNNING, attempts=F("attempts") + 1, started_at=now, next_attempt_at=None
    )
    return Action.objects.get(pk=action_id) if claimed else None


def action_perform(action_id: int) -> Action:
    """Carry out one attempt (from the task). Idempotent: an action not pending is left as it is."""
    action = _claim(action_id)
    if action is None:
        return Action.objects.get(pk=action_id)
    # What its log lines concern (dashboard/logs.py), beside the action id the task gives them.
    with log_context(
        backend=action.backend, run_id=action.target_id if action.target_type == "run" else None
    ):
        return _attempt(action)


def _attempt(action: Action) -> Action:
    action_id = action.pk
    try:
        result = _handler(action)(action)
    except BackendUnavailable as exc:
        if action.attempts < MAX_ATTEMPTS:
            countdown = max(min(2**action.attempts, 60), min(int(exc.retry_after or 0), 900))
            Action.objects.filter(pk=action_id).update(
                status=Action.Status.PENDING,
                error=f"Backend unavailable: {exc} (attempt {action.attempts}; retrying)",
                next_attempt_at=timezone.now() + timedelta(seconds=countdown),
            )
            raise RetryLater(action.attempts, countdown) from exc
        return _finish(
            action, Action.Status.FAILED, error=f"Backend unavailable after {action.attempts} attempts: {exc}"
        )
    except BackendError as exc:
        return _finish(action, Action.Status.FAILED, error=str(exc))
    except Exception as exc:
        log.exception("action %s failed", action_id)
        return _finish(action, Action.Status.FAILED, error=f"Unexpected error: {exc}")
    return _finish(action, Action.Status.SUCCEEDED, result=result)


def action_perform_now(action: Action) -> Action:
    """Carry out an action in this process (the REST API answers with its outcome). Backend errors propagate,
    after being recorded, so the caller can answer with the right status code."""
    claimed = _claim(action.pk)
    if claimed is None:
        raise ValueError(f"action {action.pk} is not pending")
    try:
        result = _handler(claimed)(claimed)
    except BackendError as exc:
        _finish(claimed, Action.Status.FAILED, error=str(exc))
        raise
    except BackendUnavailable as exc:
        _finish(claimed, Action.Status.FAILED, error=f"Backend unavailable: {exc}")
        raise
    return _finish(claimed, Action.Status.SUCCEEDED, result=result)


def _handler(action: Action) -> Callable[[Action], str]:
    return import_string(HANDLERS[action.kind])


def _finish(action: Action, status: str, *, error: str = "", result: str = "") -> Action:
    if error:
        log.info("action %s %s: %s", action.pk, status, error)  # whole, for whoever reads the server's log
    Action.objects.filter(pk=action.pk).update(
        status=status,
        error=public_message(error),
        result=public_message(result),
        outcome=action.outcome,
        finished_at=timezone.now(),
    )
    action.refresh_from_db()
    return action


def requeue_stale_actions(now: datetime | None = None) -> list[int]:
    """Enqueue again the actions whose task was lost, so no requested action is dropped."""
    now = now or timezone.now()
    # A worker that died mid-action: put the action back; the attempt it used still counts.
    Action.objects.filter(status=Action.Status.RUNNING, started_at__lt=now - RUNNING_TOO_LONG).update(
        status=Action.Status.PENDING, error="The worker carrying out this action stopped; retrying."
    )
    lost = Action.objects.filter(status=Action.Status.PENDING).filter(
        Q(next_attempt_at__isnull=True, requested_at__lt=now - PENDING_TOO_LONG)
        | Q(next_attempt_at__lt=now - PENDING_TOO_LONG)
        | Q(error=NOT_SENT)  # never sent: as soon as the queue answers
    )
    sent = []
    for pk in lost.order_by("requested_at", "id").values_list("pk", flat=True)[:REQUEUE_BATCH]:
        if not _enqueue(pk):
            break  # the queue is down: the next pass tries again
        sent.append(pk)
    Action.objects.filter(pk__in=sent, error=NOT_SENT).update(error="")
    if sent:
        log.warning("re-enqueued %d lost action%s: %s", len(sent), "" if len(sent) == 1 else "s", sent)
    return sent
