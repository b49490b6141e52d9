"""What `manage.py serve` knows about its processes: when to start one that died again, when to give up, and the
status file through which the pages' header says that a part of the stack is restarting or was restarted.

A process that dies is started again after a back-off that doubles with each death in a row (1 s, 2 s, 4 s …, at
most 30 s). A process that ran long enough before dying starts the count afresh; one that keeps dying within
seconds of its start is in a crash loop, and after RUNBOARD_RESTART_LIMIT such deaths in a row the supervisor
gives up and stops everything, saying why.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings

from dashboard.env import env_int

STABLE_SECONDS = 30  # a process that ran this long before dying was not crash-looping
MAX_BACKOFF_SECONDS = 30
RECENT = timedelta(minutes=10)  # how long the header mentions a restart


def restart_limit() -> int:
    return env_int("RUNBOARD_RESTART_LIMIT", 5)


@dataclass
class Restarts:
    """The restart policy of one process."""

    limit: int = field(default_factory=restart_limit)
    in_a_row: int = 0  # deaths within STABLE_SECONDS of a start, one after another
    total: int = 0

    def after_death(self, ran_for: float) -> float | None:
        """Seconds to wait before starting the process again, or None: it is crash-looping, give up."""
        self.in_a_row = 1 if ran_for >= STABLE_SECONDS else self.in_a_row + 1
        if self.in_a_row > self.limit:
            return None
        self.total += 1
        return float(min(2 ** (self.in_a_row - 1), MAX_BACKOFF_SECONDS))


@dataclass
class ProcessState:
    name: str
    pid: int | None = None
    state: str = "running"  # running | restarting | stopped
    restarts: int = 0
    last_exit: str = ""  # "exit code 1", "killed by SIGKILL"
    last_exit_at: str = ""  # ISO time, UTC


def status_file() -> Path:
    return settings.VAR_DIR / "serve-status.json"


def write_status(processes: list[ProcessState]) -> None:
    """Replace the status file at once (never half written for a reader)."""
    path = status_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps({"processes": [asdict(p) for p in processes]}))
    temporary.replace(path)


def remove_status() -> None:
    status_file().unlink(missing_ok=True)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Notice:
    """One line for the header: a part of the stack that is down or came back recently."""

    text: str
    down: bool


def notices(now: datetime | None = None) -> list[Notice]:
    """What the header says about the stack's processes: read from the status file `serve` keeps, if any (a
    stack run another way, under systemd say, has none, and its header says nothing about processes)."""
    try:
        raw = json.loads(status_file().read_text())
    except (OSError, ValueError):
        return []
    now = now or datetime.now(UTC)
    result = []
    for process in raw.get("processes", [])[:20] if isinstance(raw, dict) else []:
        if not isinstance(process, dict):
            continue
        name, exit_ = str(process.get("name", "?")), str(process.get("last_exit", ""))
        if process.get("state") == "restarting":
            result.append(Notice(f"{name} stopped ({exit_}): restarting", down=True))
        elif process.get("restarts") and _recent(process.get("last_exit_at"), now):
            result.append(Notice(f"{name} restarted after it stopped ({exit_})", down=False))
    return result


def _recent(value: Any, now: datetime) -> bool:
    try:
        return now - datetime.fromisoformat(str(value)) < RECENT
    except ValueError:
        return False


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"
