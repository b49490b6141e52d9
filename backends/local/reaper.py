"""Each steps worker reaps its own host's step processes that nothing watches any more.

A step's processes end with its task (the task kills its group; its direct children get SIGKILL when the task's
process dies). What a step started further down, and a step whose task died, are this module's: every few
seconds, in each steps worker's main process, it

- ends the steps of this host whose task process is gone (Failed, or Canceled when a cancel was asked for) and
  kills their processes, without waiting a minute for the heartbeat check to find them;
- kills the processes of this host's steps that are over (Completed, Failed, Canceled), and of steps being
  cancelled whose task did not stop them within the grace it gives them.

Only steps whose host id is this host's are looked at: another host's process numbers mean nothing here, even
when this host's /proc shows them (a parent PID namespace sees its children's processes).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from backends.base import RunStatus
from backends.local import hosts
from backends.local.executor import HOST, LIVE, advance, finish, syslog
from backends.local.models import LocalStep

log = logging.getLogger(__name__)

S = RunStatus
REAP_SECONDS = 2.0
# A task stops its cancelled step in CANCEL_GRACE_SECONDS (2 s, stepexec); past this, the reaper does.
CANCEL_REAP_AFTER = timedelta(seconds=10)


def reap(now: datetime | None = None, host: str = HOST) -> list[str]:
    """One pass over this host's steps; the ids of the steps whose processes it killed or which it ended."""
    now = now or timezone.now()
    found = hosts.step_groups()
    reaped = []
    orphans = LocalStep.objects.filter(host=host, status__in=LIVE, task_pid__isnull=False)
    for step in orphans:
        if hosts.is_alive(step.task_pid):
            continue
        hosts.kill_groups(found.pop(step.pk, set()))
        if step.status == S.CANCEL_REQUESTED:
            status, error = S.CANCELED, "Canceled."
        else:
            status, error = (
                S.FAILED,
                f"The task running this step on {hosts.hostname_of(host)} ended while it ran.",
            )
        finish(step, status, error=error)
        advance(step.run_id)
        reaped.append(step.pk)
    if found:
        for step in LocalStep.objects.filter(pk__in=list(found), host=host):
            over = S.is_terminal(step.status)
            stuck = step.status == S.CANCEL_REQUESTED and step.updated_at < now - CANCEL_REAP_AFTER
            if over or stuck:
                hosts.kill_groups(found[step.pk])
                syslog(
                    step, f"Killed what was left of it on {hosts.hostname_of(host)}: it was {step.status}."
                )
                reaped.append(step.pk)
    return reaped


class Reaper(threading.Thread):
    """``reap()`` every ``interval`` seconds until stopped; a database that cannot be reached is tried again."""

    def __init__(self, interval: float = REAP_SECONDS) -> None:
        super().__init__(name="runboard-step-reaper", daemon=True)
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                close_old_connections()
                reap()
            except DatabaseError as error:
                log.warning("reaping this host's steps: the database cannot be reached (%s)", error)
                close_connection()
            except Exception:
                log.exception("reaping this host's steps failed")
        close_connection()

    def stop(self) -> None:
        self.stopping.set()


def close_connection() -> None:
    """Drop this thread's database connection, broken or not: the next query opens a new one."""
    try:
        connection.close()
    except DatabaseError:
        pass
