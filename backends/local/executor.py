"""How the local engine moves a run along: queue ready steps, settle the run, cancel, watch heartbeats.

Every state change is a conditional UPDATE (``filter(status=...).update(...)``), so two workers racing on
the same step or run cannot both win, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backends.base import RunStatus
from backends.local import hosts
from backends.local.models import LocalRun, LocalStep
from backends.local.spec import PipelineSpec

log = logging.getLogger(__name__)

S = RunStatus
# A step that holds a process (or is about to): its task sends heartbeats.
LIVE = (S.PREPARING, S.RUNNING, S.CANCEL_REQUESTED, S.NOT_RESPONDING)
WAITING = (S.NOT_STARTED, S.QUEUED)
HEARTBEAT_SECONDS = 2.0
NOT_RESPONDING_AFTER = timedelta(seconds=15)
FAILED_AFTER = timedelta(seconds=60)
# Not the bare hostname: process numbers are compared and signalled only within one host id (backends.local.hosts).
HOST = hosts.HOST_ID


# --- where things live ----------------------------------------------------------------------


def engine_dir() -> Path:
    return Path(settings.LOCAL_ENGINE_DIR)


def run_dir(run_id: str) -> Path:
    return engine_dir() / "runs" / run_id


def step_dir(step: LocalStep) -> Path:
    return run_dir(step.run_id) / step.node_id


def log_path(step: LocalStep, name: str) -> Path:
    return step_dir(step) / "logs" / f"{name}.txt"


def snapshots_dir() -> Path:
    return engine_dir() / "snapshots"


def snapshot_path(digest: str) -> Path:
    return snapshots_dir() / digest


def syslog(step: LocalStep, message: str) -> None:
    """Append an engine event to the step's system log."""
    path = log_path(step, "system")
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"{stamp} {message}\n")


# --- moving a run along ---------------------------------------------------------------------


def set_step(step_id: str, from_statuses: Iterable[str], **fields: Any) -> bool:
    """Move a step from one of ``from_statuses``; True when this caller won the change."""
    fields.setdefault("updated_at", timezone.now())
    return bool(LocalStep.objects.filter(pk=step_id, status__in=list(from_statuses)).update(**fields))


def touch_run(run_id: str) -> None:
    # The sync watermark follows the run's updated_at, so a step change must move it too.
    LocalRun.objects.filter(pk=run_id).update(updated_at=timezone.now())


def advance(run_id: str) -> None:
    """Queue every step whose upstream steps completed, skip the ones that can never run, settle the run."""
    run = LocalRun.objects.get(pk=run_id)
    if S.is_terminal(run.status):
        return
    spec = PipelineSpec.from_dict(run.spec)
    steps = {s.node_id: s for s in run.steps.all()}
    stopping = run.status == S.CANCEL_REQUESTED or (
        not run.continue_on_step_failure and any(s.status == S.FAILED for s in steps.values())
    )
    now = timezone.now()
    for node_id, step in steps.items():
        if step.status != S.NOT_STARTED:
            continue
        if stopping:
            continue  # stop_run() below cancels it
        upstream = [steps[u] for u in spec.upstream(node_id)]
        blocked = [u for u in upstream if u.status in (S.FAILED, S.CANCELED)]
        if blocked:
            reason = f"Not run: upstream step '{blocked[0].node_id}' {blocked[0].status}."
            if set_step(step.pk, [S.NOT_STARTED], status=S.CANCELED, error=reason, finished_at=now):
                syslog(step, reason)
        elif all(u.status == S.COMPLETED for u in upstream):
            if set_step(step.pk, [S.NOT_STARTED], status=S.QUEUED, queued_at=now):
                syslog(step, "Queued")
                transaction.on_commit(lambda pk=step.pk: send_step(pk))
    if stopping:
        stop_run(run_id, reason="Canceled." if run.status == S.CANCEL_REQUESTED else None)
    refresh_run_status(run_id)


def send_step(step_id: str) -> bool:
    """Send a queued step's task, giving up after the queue's timeout: the step stays Queued, marked unsent, and
    ``send_unsent_steps`` (every heartbeat check) sends it when Redis answers again. Never an error for the caller,
    whose own work (the step before it, a submit) is done."""
    from backends.local.tasks import run_step

    try:
        run_step.apply_async((step_id,), retry=False)
    except Exception as exc:  # kombu's OperationalError, redis-py's timeouts, a refused connection
        log.warning("step %s not sent, the task queue did not answer: %r", step_id, exc)
        LocalStep.objects.filter(pk=step_id).update(sent=False)
        return False
    LocalStep.objects.filter(pk=step_id, sent=False).update(sent=True)
    return True


def send_unsent_steps(limit: int = 1000) -> list[str]:
    """Send again the queued steps whose task never reached the queue; stop at the first that still cannot go."""
    sent = []
    for step_id in (
        LocalStep.objects.filter(status=S.QUEUED, sent=False)
        .order_by("queued_at")
        .values_list("pk", flat=True)[:limit]
    ):
        if not send_step(step_id):
            break
        sent.append(step_id)
    return sent


def stop_run(run_id: str, reason: str | None) -> None:
    """Cancel waiting steps and ask live ones to stop. ``reason`` None means: because a step failed."""
    now = timezone.now()
    why = reason or "Not run: another step failed and continue_on_step_failure is off."
    for step in LocalStep.objects.filter(run_id=run_id, status__in=WAITING):
        if set_step(step.pk, WAITING, status=S.CANCELED, error=why, finished_at=now):
            syslog(step, f"Canceled before it started. {why}")
    for step in LocalStep.objects.filter(
        run_id=run_id, status__in=(S.PREPARING, S.RUNNING, S.NOT_RESPONDING)
    ):
        if set_step(step.pk, (S.PREPARING, S.RUNNING, S.NOT_RESPONDING), status=S.CANCEL_REQUESTED):
            syslog(step, "Cancel requested.")
            if step.status == S.NOT_RESPONDING:
                # No task is watching this one any more: stop it here.
                kill_group(step)
                set_step(step.pk, [S.CANCEL_REQUESTED], status=S.CANCELED, finished_at=now, error=why)
    touch_run(run_id)


def refresh_run_status(run_id: str) -> str:
    """Derive the run's status from its steps' and store it when it changed."""
    run = LocalRun.objects.get(pk=run_id)
    if S.is_terminal(run.status):
        return run.status
    statuses = list(run.steps.values_list("status", flat=True))
    now = timezone.now()
    if all(S.is_terminal(s) for s in statuses):
        if run.status == S.CANCEL_REQUESTED:
            new = S.CANCELED  # the steps it stopped may have failed on their way out
        elif S.FAILED in statuses:
            new = S.FAILED
        elif S.CANCELED in statuses:
            new = S.CANCELED
        else:
            new = S.COMPLETED
        error = ""
        if new == S.FAILED:
            failed = run.steps.filter(status=S.FAILED).order_by("finished_at").first()
            error = f"Step '{failed.node_id}' failed: {failed.error}" if failed else ""
        LocalRun.objects.filter(pk=run_id, status=run.status).update(
            status=new, finished_at=now, updated_at=now, error=error
        )
        return new
    if run.status == S.CANCEL_REQUESTED:
        return run.status
    if S.NOT_RESPONDING in statuses:
        new = S.NOT_RESPONDING
    elif any(s not in (S.NOT_STARTED, S.QUEUED) for s in statuses):
        new = S.RUNNING
    else:
        new = S.QUEUED
    if new != run.status:
        fields: dict[str, Any] = {"status": new, "updated_at": now}
        if new == S.RUNNING and run.started_at is None:
            fields["started_at"] = now
        LocalRun.objects.filter(pk=run_id, status=run.status).update(**fields)
    return new


def cancel_run(run_id: str) -> str:
    """CancelRequested → live steps get SIGTERM then SIGKILL from their tasks → Canceled. Idempotent."""
    with transaction.atomic():
        run = LocalRun.objects.select_for_update().get(pk=run_id)
        if S.is_terminal(run.status):
            return run.status
        LocalRun.objects.filter(pk=run_id).update(status=S.CANCEL_REQUESTED, updated_at=timezone.now())
    stop_run(run_id, reason="Canceled.")
    return refresh_run_status(run_id)


def finish(step: LocalStep, status: str, *, exit_code: int | None = None, error: str = "") -> None:
    now = timezone.now()
    if set_step(
        step.pk,
        (S.QUEUED, *LIVE),
        status=status,
        exit_code=exit_code,
        error=error,
        finished_at=now,
        heartbeat_at=now,
    ):
        syslog(step, f"{status}{': ' + error if error and error != 'Canceled.' else ''}")
    touch_run(step.run_id)


def kill_leftovers(pgid: int) -> None:
    """A step is over when its main process is: nothing it started in its group outlives it."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_group(step: LocalStep) -> None:
    if step.host == HOST and step.pid:
        kill_leftovers(step.pid)


# --- watching over steps --------------------------------------------------------------------


def check_heartbeats(now: datetime | None = None) -> None:
    """A step whose task stopped sending heartbeats is NotResponding, then Failed."""
    now = now or timezone.now()
    stale = LocalStep.objects.filter(
        status__in=(S.PREPARING, S.RUNNING), heartbeat_at__lt=now - NOT_RESPONDING_AFTER
    )
    for step in stale:
        if set_step(step.pk, (S.PREPARING, S.RUNNING), status=S.NOT_RESPONDING):
            syslog(step, f"NotResponding: no heartbeat since {step.heartbeat_at:%H:%M:%S}")
            refresh_run_status(step.run_id)
    dead = LocalStep.objects.filter(
        Q(status__in=(S.NOT_RESPONDING, S.CANCEL_REQUESTED)), heartbeat_at__lt=now - FAILED_AFTER
    )
    for step in dead:
        kill_group(step)
        status = S.CANCELED if step.status == S.CANCEL_REQUESTED else S.FAILED
        error = "Canceled." if status == S.CANCELED else "The worker running this step stopped responding."
        finish(step, status, error=error)
        advance(step.run_id)


def stop_local_steps() -> int:
    """Stop the steps running on this machine (the workers are shutting down). Returns how many."""
    steps = list(LocalStep.objects.filter(status__in=LIVE, host=HOST).select_related("run"))
    for step in steps:
        # A cancel asked for before the stop is what ends the step: Canceled, not Failed.
        if S.CANCEL_REQUESTED in (step.status, step.run.status):
            status, error = S.CANCELED, "Canceled."
        else:
            status, error = S.FAILED, "Runboard stopped while this step ran."
        if set_step(step.pk, LIVE, status=status, error=error, finished_at=timezone.now()):
            syslog(step, f"{status}: {error}" if status == S.FAILED else "Canceled (Runboard was stopping).")
        kill_group(step)
    for run_id in {s.run_id for s in steps}:
        advance(run_id)
    return len(steps)
