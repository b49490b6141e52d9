from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from backends.local.engine import register_pipeline_file
from backends.registry import get_backend

PIPELINES = Path(__file__).parent / "pipelines"
ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"
T = TypeVar("T")


def manage(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python manage.py ARGS`` as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def submit(path: Path, **parameters) -> str:
    pipeline = register_pipeline_file(path)
    return (
        get_backend("local")
        .submit_run(pipeline_id=pipeline.pk, parameters=parameters, submitted_by="tests")
        .id
    )


def wait_for(check: Callable[[], T], timeout: float = 30, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def wait_for_status(run_id: str, statuses: set[str], timeout: float = 30) -> str:
    engine = get_backend("local")
    return wait_for(
        lambda: engine.get_run(run_id).status if engine.get_run(run_id).status in statuses else None,
        timeout,
        f"run {run_id} to be one of {sorted(statuses)}",
    )


def steps_by_node(run_id: str) -> dict:
    return {s.node_id: s for s in get_backend("local").get_steps(run_id)}


def read_whole_log(run_id: str, step_id: str, name: str) -> str:
    return get_backend("local").read_log(run_id, step_id, name, 0, 1 << 20).data.decode()


def processes_in_group(pgid: int) -> list[int]:
    """Live (not zombie) processes whose process group is pgid, read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            found.append(int(entry))
    return found
