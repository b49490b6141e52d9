"""Which host a step runs on, and its processes there.

A process number means something only within one PID namespace of one boot of one machine. Two containers, or
two PID namespaces sharing a filesystem, may carry the same hostname: a host is therefore named by its hostname,
its boot id and its PID namespace together, and a step's processes are only ever signalled by a worker whose
host id is the one the step recorded.

A step's processes are found by what they carry, not only by number: every process of a step has
``RUNBOARD_STEP_ID`` in its environment, so a group is signalled only while a process of that step is in it
(a group's number cannot be taken by another group while one of its members lives).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

PROC = Path("/proc")
STEP_VARIABLE = b"RUNBOARD_STEP_ID="
PR_SET_PDEATHSIG = 1


def boot_id() -> str:
    try:
        return (PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "no-boot-id"


def pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "no-pid-ns"


def make_host_id(hostname: str, boot: str, namespace: str) -> str:
    """``hostname/boot id/PID namespace``: equal only for processes that can signal each other's numbers."""
    return f"{hostname}/{boot}/{namespace}"


def hostname_of(host_id: str) -> str:
    """The hostname part, for people: ``gpu-3`` rather than the whole id."""
    return host_id.split("/", 1)[0]


def current_host_id() -> str:
    return make_host_id(socket.gethostname(), boot_id(), pid_namespace())


HOST_ID = current_host_id()


# --- processes of a step ----------------------------------------------------------------------


def process_groups() -> dict[int, int]:
    """pid → process group of every live (not zombie) process this PID namespace shows."""
    groups = {}
    for entry in os.listdir(PROC):
        if not entry.isdigit():
            continue
        try:
            stat = (PROC / entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            groups[int(entry)] = int(fields[2])
    return groups


def step_of(pid: int) -> str | None:
    """The step id a process carries in its environment, if any (None when it cannot be read)."""
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    for item in environ.split(b"\0"):
        if item.startswith(STEP_VARIABLE):
            return item[len(STEP_VARIABLE) :].decode(errors="replace")
    return None


def step_groups() -> dict[str, set[int]]:
    """step id → the process groups holding a process of that step, on this host."""
    found: dict[str, set[int]] = {}
    own = os.getpgid(0)
    for pid, group in process_groups().items():
        if group == own:
            continue  # the worker's own group: a step never runs in it
        step_id = step_of(pid)
        if step_id:
            found.setdefault(step_id, set()).add(group)
    return found


def kill_groups(groups: set[int]) -> None:
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def is_alive(pid: int) -> bool:
    """Whether a process of this number runs here (a zombie does not count)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# --- dying with the task --------------------------------------------------------------------


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child get SIGKILL when the thread that started it ends.

    Set in the child between fork and exec, after Popen has put it in its process group; kept across exec.
    The kernel ties it to the starting thread, so a step is started from the thread that watches it.
    """
    libc = ctypes.CDLL(
        None, use_errno=True
    )  # loaded here, not in the child: no loading between fork and exec
    parent = os.getpid()

    def set_death_signal() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was set
            os.kill(os.getpid(), signal.SIGKILL)

    return set_death_signal
