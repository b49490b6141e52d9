"""Which host a step runs on (backends/local/hosts.py): an id that two hosts never share, the processes that carry
a step's id, and a step's process that dies with the process that started it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from backends.local import hosts

ROOT = Path(__file__).resolve().parents[2]


def wait_gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not hosts.is_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_two_hosts_with_one_hostname_have_different_ids() -> None:
    same_name = [
        hosts.make_host_id("worker", "boot-a", "4026531836"),
        hosts.make_host_id("worker", "boot-b", "4026531836"),  # the machine was restarted
        hosts.make_host_id("worker", "boot-a", "4026532290"),  # another PID namespace (a container)
    ]

    assert len(set(same_name)) == 3
    assert hosts.make_host_id("worker", "boot-a", "1") == hosts.make_host_id("worker", "boot-a", "1")
    assert {hosts.hostname_of(h) for h in same_name} == {"worker"}


def test_this_hosts_id_is_made_of_its_hostname_boot_and_pid_namespace() -> None:
    boot = open("/proc/sys/kernel/random/boot_id").read().strip()
    namespace = os.stat("/proc/self/ns/pid").st_ino

    assert hosts.HOST_ID == f"{socket.gethostname()}/{boot}/{namespace}"
    assert len(hosts.HOST_ID) <= 255  # LocalStep.host


def test_a_steps_groups_are_found_by_the_id_its_processes_carry() -> None:
    env = {**os.environ, "RUNBOARD_STEP_ID": "step-under-test"}
    shell = "sleep 300 & sleep 300 & wait"
    mine = subprocess.Popen(["/bin/bash", "-c", shell], env=env, start_new_session=True)
    other = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while len([g for g in hosts.process_groups().values() if g == mine.pid]) < 3:
            assert time.monotonic() < deadline, "the step's three processes did not start"
            time.sleep(0.05)

        groups = hosts.step_groups()
        assert groups.get("step-under-test") == {mine.pid}
        assert other.pid not in {g for found in groups.values() for g in found}
        assert hosts.step_of(mine.pid) == "step-under-test" and hosts.step_of(other.pid) is None

        hosts.kill_groups({mine.pid})
        assert mine.wait(timeout=5) == -signal.SIGKILL
        assert "step-under-test" not in hosts.step_groups()
    finally:
        for process in (mine, other):
            process.kill()
            process.wait()


STARTER = """
import subprocess, sys, time
from backends.local import hosts
child = subprocess.Popen(["sleep", "300"], process_group=0, preexec_fn=hosts.die_with_parent())
print(child.pid, flush=True)
time.sleep(300)
"""


def test_a_process_started_with_die_with_parent_dies_with_its_starter() -> None:
    starter = subprocess.Popen([sys.executable, "-c", STARTER], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        child = int(starter.stdout.readline())
        assert hosts.is_alive(child)
        assert os.getpgid(child) == child  # in a group of its own, as a step is

        os.kill(starter.pid, signal.SIGKILL)
        starter.wait()

        assert wait_gone(child), "the child outlived the process that started it"
    finally:
        starter.kill()
        starter.wait()
