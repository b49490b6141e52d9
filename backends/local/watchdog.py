"""A step's task that cannot reach the database stops its step before the others declare it Failed.

The web host and beat see a step only through the heartbeats its task writes. A task that could not write one for
longer than the loss limit (RUNBOARD_DATABASE_LOSS_LIMIT, below the heartbeat check's FAILED_AFTER) kills its
step's process group itself, from a thread of its own, so that it does so even while a query hangs on a dead
connection: when the other side declares the step Failed, nothing of it runs any more.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection

from backends.local.executor import FAILED_AFTER

TERM_GRACE_SECONDS = 2.0


def database_loss_limit() -> timedelta:
    limit = timedelta(seconds=settings.LOCAL_DATABASE_LOSS_SECONDS)
    # Stopped (SIGTERM, its grace, SIGKILL) before the step is declared Failed, with a margin for clocks a little
    # apart: the heartbeat's time is the task host's, the check's the beat host's.
    return min(limit, FAILED_AFTER - timedelta(seconds=10))


def reconnect() -> None:
    """Drop a connection that failed: the next query opens a new one (each attempt bounded by connect_timeout)."""
    try:
        connection.close()
    except DatabaseError:
        pass


class DatabaseLease(threading.Thread):
    """Kills process group ``pgid`` (SIGTERM, then SIGKILL) unless ``renew()`` is called at least every ``limit``."""

    def __init__(self, pgid: int, limit: timedelta | None = None) -> None:
        super().__init__(name=f"database-lease-{pgid}", daemon=True)
        self.pgid = pgid
        self.limit = (limit or database_loss_limit()).total_seconds()
        self.renewed = time.monotonic()
        self.lost = False  # a database call failed since the last heartbeat
        self.expired = threading.Event()
        self.done = threading.Event()

    def renew(self) -> None:
        """A heartbeat was written."""
        self.renewed = time.monotonic()
        self.lost = False

    def silent_for(self) -> float:
        return time.monotonic() - self.renewed

    def run(self) -> None:
        while not self.done.wait(0.25):
            if self.silent_for() > self.limit:
                self.expired.set()
                self._kill()
                return

    def _kill(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.pgid, sig)
            except (ProcessLookupError, PermissionError):
                return
            if self.done.wait(TERM_GRACE_SECONDS):
                return  # the task saw its processes end

    def stop(self) -> None:
        self.done.set()
