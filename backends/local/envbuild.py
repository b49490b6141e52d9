"""Building one environment with uv: a relocatable virtual environment on the plan's Python, then pip install.

uv (pinned in requirements.txt) is fast (an environment of a few small packages builds in about a second) and
makes relocatable environments, so one is built in a folder of its own and renamed into place when complete. Its
output goes to the build log as it comes, each line handed to ``show`` too. Pure Python (no Django).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from backends.local.conda import Plan

POLL_SECONDS = 0.25
# Variables of the worker that would point uv or pip somewhere else than the environment being built.
_UNSET = ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONHOME", "PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")


# What uv draws around an error on a terminal: the box's corners and arrows, and a multiplication sign.
_DRAWING = " \t\u00d7\u2570\u2500\u25b6\u2502"


class BuildFailed(RuntimeError):
    """The build did not finish; the message says why in uv's words (the build log has the rest)."""


def uv_binary() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        raise BuildFailed("uv is not installed: pip install -r requirements.txt") from None
    return find_uv_bin()


def build(
    plan: Plan,
    target: Path,
    log: Path,
    *,
    cache: Path,
    tick: Callable[[], None],
    show: Callable[[str], None],
    timeout: float,
) -> None:
    """Make the environment at ``target`` (which must not exist). ``tick`` is called between polls and may
    raise to stop the build; ``timeout`` is in seconds for the whole build."""
    uv = uv_binary()
    env = {k: v for k, v in os.environ.items() if k not in _UNSET}
    env.update(
        UV_PYTHON_DOWNLOADS="never",  # only the worker's own Python: nothing to fetch but packages
        UV_LINK_MODE="copy",  # files of its own, not hard links into the cache that a step could change
        UV_NO_PROGRESS="1",
        NO_COLOR="1",
    )
    env.setdefault("UV_CACHE_DIR", str(cache))
    deadline = time.monotonic() + timeout
    target.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as fh:
        fh.write("Requirements:\n" + "".join(f"  {r}\n" for r in plan.requirements))
    show(f"Requirements: {', '.join(plan.requirements)}")
    commands = [
        [uv, "venv", "--relocatable", "--no-project", "--python", plan.interpreter, str(target)],
        [
            uv, "pip", "install", "--python", str(target / "bin" / "python"),
            "-r", str(target / "requirements.txt"),
        ],
    ]  # fmt: skip
    for number, command in enumerate(commands):
        tick()  # not a command more once the step is stopped
        if number == 1:
            (target / "requirements.txt").write_text("".join(f"{r}\n" for r in plan.requirements))
        _run(command, env, log, target.parent, tick, show, deadline)


def _run(
    command: list[str],
    env: dict[str, str],
    log: Path,
    cwd: Path,
    tick: Callable[[], None],
    show: Callable[[str], None],
    deadline: float,
) -> None:
    shown = " ".join(["uv", *command[1:]])
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"$ {shown}\n")
    show(f"$ {shown}")
    offset = log.stat().st_size
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own group, so stopping the build stops everything it started
        )
    try:
        while True:
            try:
                process.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            offset = _show_new_lines(log, offset, show)
            if time.monotonic() > deadline:
                raise BuildFailed("the build took too long and was stopped")
            tick()
    except BaseException:
        _stop(process)
        raise
    _show_new_lines(log, offset, show, final=True)
    if process.returncode != 0:
        raise BuildFailed(_last_words(log) or f"uv exited with status {process.returncode}")


def _show_new_lines(log: Path, offset: int, show: Callable[[str], None], final: bool = False) -> int:
    """Hands every complete line written since ``offset`` to ``show``; the offset of what is left."""
    with log.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = len(data) if final else data.rfind(b"\n") + 1
    for line in data[:end].decode("utf-8", "replace").splitlines():
        if line.strip():
            show(line.rstrip())
    return offset + end


def _last_words(log: Path, window: int = 4096) -> str:
    """uv's error, which it prints last: from its last "error:" line on, without the tree drawing around it."""
    with log.open("rb") as fh:
        fh.seek(max(0, log.stat().st_size - window))
        lines = fh.read().decode("utf-8", "replace").splitlines()
    words = [line.strip(_DRAWING) for line in lines if line.strip(_DRAWING)]
    start = max(
        (i for i, line in enumerate(words) if line.lower().startswith("error")), default=len(words) - 3
    )
    return " ".join(words[max(start, 0) :])[:1000]


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
