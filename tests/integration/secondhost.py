"""A second steps host on this machine, for fault tests that need root: a network namespace joined to this one by
a veth pair, and in it a steps worker in PID and UTS namespaces of its own, with this machine's hostname. It
reaches PostgreSQL and Redis (which listen on 127.0.0.1 here) through TCP forwarders listening on this side's
veth address, and shares the engine folder (one filesystem). Cutting the veth cuts it off."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from backends.local import hosts
from tests.tcpproxy import TcpProxy

ROOT = Path(__file__).resolve().parent.parent.parent
_count = itertools.count()

START = """
import os, socket, sys
socket.sethostname(sys.argv[1])  # the same hostname as the first host: only the host id tells them apart
os.execv(sys.executable, [sys.executable, "-m", "celery", "-A", "dashboard", *sys.argv[2:]])
"""


def missing() -> str:
    """Why a second host cannot be built here, or "" when it can."""
    if os.geteuid() != 0:
        return "needs root: a second host is built with network and PID namespaces"
    absent = [tool for tool in ("ip", "unshare") if shutil.which(tool) is None]
    return f"needs {' and '.join(absent)} to build a second host" if absent else ""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class SecondHost:
    def __init__(self, *, database: dict, redis_url: str, engine_dir: Path, log: Path) -> None:
        number = (os.getpid() + next(_count)) % 250
        tag = f"{os.getpid() % 100000}x{number}"
        self.netns, self.outer, self.inner = f"rbhost-{tag}", f"rbo{tag}"[:15], f"rbi{tag}"[:15]
        self.address, self.peer = f"10.250.{number}.1", f"10.250.{number}.2"
        self.database, self.redis_url, self.engine_dir, self.log = database, redis_url, engine_dir, log
        self.name = f"second-{tag}@{socket.gethostname()}"
        self.proxies: list[TcpProxy] = []
        self.process: subprocess.Popen | None = None

    # --- building and taking down ---------------------------------------------------------------

    def start(self) -> None:
        ip("netns", "add", self.netns)
        ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        ip("link", "set", self.inner, "netns", self.netns)
        ip("addr", "add", f"{self.address}/30", "dev", self.outer)
        ip("link", "set", self.outer, "up")
        ip("netns", "exec", self.netns, "ip", "addr", "add", f"{self.peer}/30", "dev", self.inner)
        ip("netns", "exec", self.netns, "ip", "link", "set", self.inner, "up")
        ip("netns", "exec", self.netns, "ip", "link", "set", "lo", "up")
        db = self.database
        postgres = TcpProxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)), host=self.address)
        redis = urlsplit(self.redis_url)
        broker = TcpProxy((redis.hostname or "127.0.0.1", redis.port or 6379), host=self.address)
        self.proxies += [postgres, broker]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DATABASE_URL": f"postgres://{db['USER'] or ''}@{self.address}:{postgres.port}/{db['NAME']}",
            "REDIS_URL": f"redis://{self.address}:{broker.port}{redis.path}",
            "RUNBOARD_LOCAL_ENGINE_DIR": str(self.engine_dir),
            "PYTHONUNBUFFERED": "1",
        }
        worker = ["worker", "-Q", "steps", "-c", "2", "-n", self.name, "--without-gossip", "--without-mingle"]
        command = ["ip", "netns", "exec", self.netns, "unshare", "--pid", "--uts", "--fork", "--mount-proc"]
        command += [sys.executable, "-c", START, socket.gethostname(), *worker, "-l", "info"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while "ready." not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the second host's worker did not start:\n{self.output()[-4000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Everything it made, whatever state it is in: its processes, the veth pair, the namespace."""
        if self.process is not None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.process.pid, sig)
                    self.process.wait(timeout=wait)
                    break
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    continue
        for proxy in self.proxies:
            proxy.close()
        for args in (("link", "del", self.outer), ("netns", "del", self.netns)):
            subprocess.run(["ip", *args], capture_output=True, timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    # --- what tests do to it ----------------------------------------------------------------------

    def cut(self) -> None:
        ip("link", "set", self.outer, "down")

    def restore(self) -> None:
        ip("link", "set", self.outer, "up")

    @property
    def pid_namespace(self) -> int:
        """The PID namespace of its worker: the one under unshare, PID 1 in there."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return os.stat(f"/proc/{children[0]}/ns/pid").st_ino

    @property
    def host_id(self) -> str:
        return hosts.make_host_id(socket.gethostname(), hosts.boot_id(), str(self.pid_namespace))

    def outer_pid(self, pid: int) -> int:
        """This namespace's number for process ``pid`` of the second host's."""
        namespace = self.pid_namespace
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry}/ns/pid").st_ino != namespace:
                    continue
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            numbers = next(line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:"))
            if int(numbers[-1]) == pid:
                return int(entry)
        raise LookupError(f"no process {pid} on the second host")
