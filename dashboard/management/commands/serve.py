"""`manage.py serve` (what `make run` ends with): Redis, two Celery workers, beat and gunicorn, as one process.

A child that dies is started again, after a back-off, and the pages' header says so (dashboard/supervision.py);
only a child that keeps dying right after its start makes the supervisor give up and stop everything. Each child
runs in its own process group, so Ctrl-C reaches only this supervisor, which then stops the children in order: web, beat and workers first, then the local pipeline steps, then Redis, which the others need to shut
down cleanly. Each child writes to its own log in var/log/ (the previous run's is kept as NAME.log.1), so that
what the terminal shows ends with where to go and how to log in; a child that dies has its last lines shown.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.env import env_int
from dashboard.management.commands.bootstrap import ADMIN_USERNAME, admin_password_file
from dashboard.redis_server import EmbeddedRedis
from dashboard.supervision import ProcessState, Restarts, describe_exit, now_iso, remove_status, write_status

STOP_GRACE_SECONDS = 10
READY_TIMEOUT_SECONDS = 60
LAST_LINES = 12  # of a child's log, shown when it dies


def log_path(name: str) -> Path:
    return settings.VAR_DIR / "log" / f"{name}.log"


def open_log(name: str) -> IO[bytes]:
    """A fresh log for a child of this run; the previous run's is kept beside it as NAME.log.1."""
    path = log_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.replace(path.with_name(f"{name}.log.1"))
    return path.open("ab")


def last_lines(path: Path, count: int = LAST_LINES) -> list[str]:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, 2) - 8192))
            return fh.read().decode(errors="replace").splitlines()[-count:]
    except OSError:
        return []


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    argv: list[str]
    env: dict[str, str]
    started_at: float = field(default_factory=time.monotonic)
    restarts: Restarts = field(default_factory=Restarts)
    due_at: float | None = None  # when it is to be started again, while it is down
    state: ProcessState = field(init=False)

    def __post_init__(self) -> None:
        self.state = ProcessState(self.name, pid=self.process.pid)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill_group(self) -> None:
        # The whole group: gunicorn's and Celery's own worker processes share their parent's group.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()


class Command(BaseCommand):
    help = "Run Runboard: embedded Redis (unless REDIS_URL is set), Celery workers, beat and the web server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port", type=int, default=env_int("PORT", 8000), help="HTTP port (default: PORT or 8000)"
        )

    def handle(self, *args: Any, port: int, **options: Any) -> None:
        self.children: list[Child] = []
        self.redis: EmbeddedRedis | None = None
        self.redis_restarts = Restarts()
        self.output_lock = threading.Lock()
        self.stopping = threading.Event()
        self.hurry = threading.Event()  # a second Ctrl-C: skip the grace period
        self.signal_name = ""
        previous = {sig: signal.signal(sig, self.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        failure = ""
        try:
            self.check_port_free(port)
            failure = self.start_all(port) or self.supervise()
            if failure:
                self.say(f"{failure}: stopping everything", style=self.style.ERROR)
        finally:
            self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failure:
            raise CommandError(failure, returncode=1)
        self.say("stopped")

    # --- starting ------------------------------------------------------------------------------

    def start_all(self, port: int) -> str:
        """Start everything and wait for the web server; returns why it failed, or "" when it is up."""
        env = os.environ | {"PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "dashboard.settings"}
        if settings.REDIS_EMBEDDED:
            log = open_log("redis")
            self.redis = EmbeddedRedis(
                settings.VAR_DIR / "redis", socket_path=settings.EMBEDDED_REDIS_SOCKET, stdout=log
            )
            try:
                url = self.redis.start()
            except RuntimeError as exc:
                return self.with_last_lines(f"redis: {exc}", log_path("redis"))
            finally:
                log.close()
            self.redis_started_at = time.monotonic()
            self.redis_state = ProcessState(
                "redis", pid=self.redis.process.pid if self.redis.process else None
            )
            if self.redis.started_by_us:
                self.say(f"redis started (process {self.redis.process.pid}) at {url}")
            else:
                self.say(f"redis already running at {url}")
        else:
            url = settings.REDIS_URL
        env["REDIS_URL"] = url

        celery = [sys.executable, "-m", "celery", "-A", "dashboard"]
        if settings.LOG_FORMAT == "json":
            celery.append("--quiet")  # the startup banner is no JSON line
        self.spawn("worker", [*celery, "worker", "-Q", "runboard", "-c", "2", "-n", "runboard@%h"], env)
        self.spawn("steps", [*celery, "worker", "-Q", "steps", "-c", "4", "-n", "steps@%h"], env)
        schedule = str(settings.VAR_DIR / "celerybeat-schedule")
        self.spawn("beat", [*celery, "beat", "-s", schedule], env)
        web = [sys.executable, "-m", "gunicorn", "dashboard.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        web += ["--worker-class", "gthread", "--threads", "8", "--workers", "2"]
        # A request stops itself at its deadline (dashboard/deadline.py); a worker that cannot answer the
        # master for 30 s is replaced, and one told to stop has 10 s to finish its requests.
        web += ["--timeout", "30", "--graceful-timeout", "10"]
        # gunicorn 27's control socket defaults to one path in ~ for every instance: not wanted here.
        web += ["--no-control-socket"]
        web += [
            "--logger-class",
            "dashboard.gunicorn_logs.GunicornLogger",
        ]  # its lines in RUNBOARD_LOG_FORMAT
        self.spawn("web", web, env | {"PROMETHEUS_MULTIPROC_DIR": str(self.fresh_metrics_dir())})

        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not self.answers_http(port):
            if self.stopping.is_set():
                return ""
            if failure := self.dead_child():
                return failure
            if time.monotonic() > deadline:
                return f"the web server did not answer on port {port} within {READY_TIMEOUT_SECONDS} s"
            time.sleep(0.25)
        if not self.stopping.is_set():
            # Commands run from another shell (manage.py submit) print links to this server.
            settings.SERVE_URL_FILE.write_text(f"http://127.0.0.1:{port}")
            names = ",".join(c.name for c in self.children) + (",redis" if self.redis else "")
            logs = log_path("{" + names + "}")
            self.say(
                f"logs: {logs.relative_to(settings.BASE_DIR) if logs.is_relative_to(settings.BASE_DIR) else logs}"
            )
            self.announce(port)
        return ""

    def fresh_metrics_dir(self) -> Path:
        """Where gunicorn's workers keep their request metrics (dashboard/metrics.py), emptied of a previous run's."""
        path = settings.VAR_DIR / "prometheus"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        process = self.popen(name, argv, env, fresh_log=True)
        self.children.append(Child(name, process, log_path(name), argv, env))
        self.say(f"{name} started (process {process.pid})")
        self.write_status()

    def popen(self, name: str, argv: list[str], env: dict[str, str], *, fresh_log: bool) -> subprocess.Popen:
        log = open_log(name) if fresh_log else log_path(name).open("ab")
        with log:
            return subprocess.Popen(
                argv,
                cwd=settings.BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )

    def with_last_lines(self, message: str, log: Path) -> str:
        """``message``, with the last lines the child wrote, for a child that died."""
        tail = "\n".join(f"    {line}" for line in last_lines(log))
        return f"{message}; the end of {log}:\n{tail}" if tail else f"{message} (see {log})"

    def announce(self, port: int) -> None:
        lines = ["", f"Runboard is running at http://127.0.0.1:{port}/"]
        password_file = admin_password_file()
        try:
            password = password_file.read_text().strip()
        except FileNotFoundError:
            password = ""
        if password:
            lines.append(f"Log in as {ADMIN_USERNAME} with the password {password}")
            lines.append(
                "  (shown only this once: note it, or reset it with `python manage.py changepassword admin`)"
            )
            password_file.unlink()
        else:
            lines.append(
                f"Log in as {ADMIN_USERNAME}: the password was printed when the account was created, or set with "
                "RUNBOARD_ADMIN_PASSWORD; `python manage.py changepassword admin` resets it."
            )
        lines += ["Press Ctrl-C to stop.", ""]
        self.say("\n".join(lines), style=self.style.SUCCESS)

    # --- running -------------------------------------------------------------------------------

    def supervise(self) -> str:
        """Start again what dies, after its back-off; returns why it gave up, or "" when told to stop."""
        while not self.stopping.wait(0.25):
            for child in self.children:
                if child.due_at is None and not child.alive():
                    if failure := self.on_death(child):
                        return failure
                elif child.due_at is not None and time.monotonic() >= child.due_at:
                    self.restart(child)
            if failure := self.redis_died():
                return failure
        return ""

    def on_death(self, child: Child) -> str:
        ran_for = time.monotonic() - child.started_at
        how = describe_exit(child.process.returncode)
        child.kill_group()  # what it left behind: gunicorn's workers still hold the port, say
        delay = child.restarts.after_death(ran_for)
        message = self.with_last_lines(f"{child.name} stopped ({how}) after {ran_for:.0f} s", child.log)
        if delay is None:
            return (
                f"{message}\n{child.name} stopped {child.restarts.in_a_row} times in a row within seconds of "
                "its start: giving up"
            )
        self.say(f"{message}\nstarting {child.name} again in {delay:.0f} s", style=self.style.WARNING)
        child.due_at = time.monotonic() + delay
        child.state.state, child.state.last_exit, child.state.last_exit_at = "restarting", how, now_iso()
        self.write_status()
        return ""

    def restart(self, child: Child) -> None:
        child.process = self.popen(child.name, child.argv, child.env, fresh_log=False)
        child.started_at, child.due_at = time.monotonic(), None
        child.state.pid, child.state.state = child.process.pid, "running"
        child.state.restarts = child.restarts.total
        self.write_status()
        self.say(f"{child.name} started again (process {child.process.pid})", style=self.style.SUCCESS)

    def redis_died(self) -> str:
        """The embedded Redis, started again at once on its own socket: every other part waits for it."""
        if not (self.redis and self.redis.process and self.redis.process.poll() is not None):
            return ""
        how = describe_exit(self.redis.process.returncode)
        ran_for = time.monotonic() - self.redis_started_at
        delay = self.redis_restarts.after_death(ran_for)
        if delay is None:
            return f"redis stopped ({how}) {self.redis_restarts.in_a_row} times in a row: giving up"
        self.say(f"redis stopped ({how}): starting it again", style=self.style.WARNING)
        self.redis_state.state, self.redis_state.last_exit, self.redis_state.last_exit_at = (
            "restarting",
            how,
            now_iso(),
        )
        self.write_status()
        if self.stopping.wait(delay):
            return ""
        with log_path("redis").open("ab") as log:
            self.redis.stdout = log
            try:
                self.redis.start()
            except RuntimeError as exc:
                return self.with_last_lines(f"redis could not be started again: {exc}", log_path("redis"))
        self.redis_started_at = time.monotonic()
        self.redis_state.pid, self.redis_state.state = self.redis.process.pid, "running"
        self.redis_state.restarts = self.redis_restarts.total
        self.write_status()
        self.say(f"redis started again (process {self.redis.process.pid})", style=self.style.SUCCESS)
        return ""

    def write_status(self) -> None:
        states = [c.state for c in self.children]
        if self.redis and self.redis.started_by_us:
            states.append(self.redis_state)
        try:
            write_status(states)
        except OSError as exc:
            self.say(f"could not write the status file: {exc}")

    def dead_child(self) -> str:
        for child in self.children:
            if not child.alive():
                message = f"{child.name} exited unexpectedly with code {child.process.returncode}"
                return self.with_last_lines(message, child.log)
        if self.redis and self.redis.process and self.redis.process.poll() is not None:
            return f"redis exited unexpectedly with code {self.redis.process.returncode}"
        return ""

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        # No printing here: the handler may interrupt the main thread halfway through a write to stdout.
        if self.stopping.is_set():
            self.hurry.set()
        else:
            self.signal_name = signal.Signals(signum).name
            self.stopping.set()

    # --- stopping ------------------------------------------------------------------------------

    def stop_all(self) -> None:
        self.stopping.set()
        settings.SERVE_URL_FILE.unlink(missing_ok=True)
        remove_status()
        if self.signal_name:
            self.say(f"{self.signal_name}: stopping everything (Ctrl-C again to kill at once)")
        for child in self.children:
            if child.alive():
                # The leader only: Celery's pool processes die on a SIGTERM of their own, mid-task.
                child.process.send_signal(signal.SIGTERM)
        # Steps run in process groups of their own: kill them, or the steps worker waits for them to finish.
        self.stop_local_steps()

        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while self.any_alive() and time.monotonic() < deadline and not self.hurry.is_set():
            time.sleep(0.1)
        if self.any_alive():
            self.stop_local_steps()  # any a task started after the first call
        for child in self.children:
            if child.alive():
                self.say(f"{child.name} still running: killing it")
            # Also after a clean exit: a group can outlive its leader (a pool process orphaned by a crash).
            child.kill_group()
        if self.redis:
            self.redis.stop()

    def any_alive(self) -> bool:
        return any(child.alive() for child in self.children)

    def stop_local_steps(self) -> None:
        """Kill pipeline steps still running on this machine, so the steps worker can stop without waiting."""
        try:
            from backends.local.engine import stop_local_steps
        except ImportError as exc:
            if exc.name != "backends.local.engine":
                raise
            self.say(f"local engine not available ({exc}): no pipeline steps to stop")
            return
        try:
            stopped = stop_local_steps()
        except Exception as exc:  # shutting down regardless: report and carry on
            self.say(f"could not stop the local pipeline steps: {exc!r}")
            return
        if stopped:
            self.say(f"stopped {stopped} pipeline step{'s' if stopped != 1 else ''} still running here")

    # --- helpers -------------------------------------------------------------------------------

    def check_port_free(self, port: int) -> None:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                raise CommandError(
                    f"port {port} is in use ({exc.strerror}): is Runboard already running? Use --port or PORT."
                ) from None

    def answers_http(self, port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # any answer counts: 404 or 500 is the web server's to report
        except OSError:
            return False

    def say(self, text: str, *, prefix: str = "serve", style: Any = None) -> None:
        lines = [f"{prefix:<6}| {line}" if line else "" for line in text.split("\n")]
        with self.output_lock:
            self.stdout.write("\n".join(lines), style_func=style)
            self.stdout.flush()
