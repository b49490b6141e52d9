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
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, connection

from backends.local.executor import FAILED_AFTER

TERM_GRACE_SECONDS = 2.0
RETRY_SECONDS = 0.25
T = TypeVar("T")


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


def through_outage(write: Callable[[], T], *, give_up: Callable[[], bool], note: Callable[[str], None]) -> T:
    """``write()``, the database work that records what a step's processes do, tried again while the database
    cannot be reached, until ``give_up()`` (then its error is raised); ``note`` is told when an outage begins and
    when it ends.

    A short outage must not change a step's outcome: an error escaping these writes would stop processes that run
    well (marking the step Running) or leave a step that completed to be declared Failed (recording its end).
    Each write is one that may be repeated: a write that committed before its answer was lost changes nothing
    the second time."""
    told = False
    while True:
        try:
            result = write()
        except DatabaseError as error:
            reconnect()
            if give_up():
                raise
            if not told:
                note(f"The database cannot be reached ({str(error).strip()[:200]}): trying again")
                told = True
            time.sleep(RETRY_SECONDS)
            continue
        if told:
            note("The database answers again")
        return result


def give_up_after(seconds: float) -> Callable[[], bool]:
    deadline = time.monotonic() + seconds
    return lambda: time.monotonic() > deadline


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
