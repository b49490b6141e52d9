"""`manage.py serve`, what `make run` ends with, run as a user runs it: its own folder, SQLite, embedded Redis."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """A stack of its own in ``folder``: migrated and bootstrapped, then served; its output collected."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        keep = ("PATH", "HOME", "LANG", "PYTHONPATH")
        self.env = (
            {k: v for k, v in os.environ.items() if k in keep}
            | {
                "RUNBOARD_VAR_DIR": str(folder),
                "RUNBOARD_ADMIN_PASSWORD": "admin-pass-123",
            }
            | (env or {})
        )
        for command in (["migrate", "--noinput"], ["bootstrap"]):
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=self.env,
                check=True,
                capture_output=True,
            )
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []

    def read_until(self, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            self.lines.append(line.rstrip("\n"))
            if text in line:
                return
        raise AssertionError(f"no {text!r} within {timeout} s:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            rest, _ = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            rest, _ = self.process.communicate()
        self.lines += rest.splitlines()
        return self.process.returncode


@pytest.fixture
def stack(tmp_path):
    stack = Stack(tmp_path / "var")
    yield stack
    stack.stop()


def test_the_first_screen_ends_with_where_to_go_and_how_to_log_in(stack):
    stack.read_until("Press Ctrl-C to stop.")
    time.sleep(3)  # what the workers print once up must not land after the address

    code = stack.stop()

    shown = [line for line in stack.lines if line.strip()]
    before_stop = shown[: next(i for i, line in enumerate(shown) if "stopping everything" in line)]
    assert before_stop[-3].endswith(f"Runboard is running at http://127.0.0.1:{stack.port}/")
    assert "Log in as admin" in before_stop[-2] and before_stop[-1].endswith("Press Ctrl-C to stop.")
    assert not any("celery@" in line or "[tasks]" in line or "Booting worker" in line for line in shown)
    # Each part's own output is in its log, which the output names.
    logs = stack.folder / "log"
    assert any(f"logs: {logs}/{{worker,steps,beat,web,redis}}.log" in line for line in shown)
    assert "celery@" in (logs / "worker.log").read_text() or "runboard@" in (logs / "worker.log").read_text()
    assert "Listening at" in (logs / "web.log").read_text()
    assert code == 0


def pid_of(stack: Stack, name: str, *, again: bool = False) -> int:
    """The process number the output gave for ``name`` (its latest start)."""
    words = f"serve | {name} started {'again ' if again else ''}(process "
    found = [int(line.split("process ")[1].split(")")[0]) for line in stack.lines if line.startswith(words)]
    assert found, f"no {words!r} in:\n" + "\n".join(stack.lines)
    return found[-1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status == 200
    except urllib.error.HTTPError as exc:  # no /healthz: any answer from the web server counts
        return exc.code < 500
    except OSError:
        return False


def test_each_part_that_dies_is_started_again_and_the_stack_goes_on(stack):
    stack.read_until("Press Ctrl-C to stop.")
    redis = pid_of(stack, "redis")
    for name in ("worker", "steps", "beat", "web", "redis"):
        old = redis if name == "redis" else pid_of(stack, name)
        os.kill(old, signal.SIGKILL)
        stack.read_until(f"{name} started again (process ", timeout=60)
        new = pid_of(stack, name, again=True)
        assert new != old and alive(new)
        status = json.loads((stack.folder / "serve-status.json").read_text())
        entry = next(p for p in status["processes"] if p["name"] == name)
        assert entry == entry | {
            "state": "running",
            "pid": new,
            "restarts": 1,
            "last_exit": "killed by SIGKILL",
        }

    output = "\n".join(stack.lines)
    assert "beat stopped (killed by SIGKILL)" in output and "beat.log" in output  # named, with its log
    deadline = time.monotonic() + 60
    while not answers(stack.port):
        assert time.monotonic() < deadline, "the web server did not answer after its restart"
        time.sleep(0.5)
    assert stack.stop() == 0  # still a stack that stops cleanly
    assert not (stack.folder / "serve-status.json").exists()


def test_a_part_that_keeps_dying_at_its_start_stops_everything_saying_why(tmp_path):
    stack = Stack(tmp_path / "var", env={"RUNBOARD_RESTART_LIMIT": "2"})
    try:
        stack.read_until("Press Ctrl-C to stop.")
        os.kill(pid_of(stack, "beat"), signal.SIGKILL)
        stack.read_until("beat started again", timeout=30)  # after 1 s
        os.kill(pid_of(stack, "beat", again=True), signal.SIGKILL)
        stack.read_until("beat started again", timeout=30)  # after 2 s
        os.kill(pid_of(stack, "beat", again=True), signal.SIGKILL)  # the third death in a row: a crash loop
        stack.read_until("stopping everything", timeout=60)
    finally:
        code = stack.stop()
    output = "\n".join(stack.lines)
    assert "beat stopped 3 times in a row within seconds of its start: giving up" in output
    assert code == 1
