"""One step, from Queued to its end: its inputs (remote ones fetched), reuse of an earlier identical step, its
environment, its working directory and variables, then its processes, watched until they end, are canceled or
time out. Called by the Celery task on the steps queue (backends/local/tasks.py)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from django.db import DatabaseError
from django.utils import timezone

from backends.base import RunStatus
from backends.local import envspec, hosts, runtime, staging
from backends.local.executor import (
    HEARTBEAT_SECONDS,
    HOST,
    advance,
    finish,
    kill_leftovers,
    log_path,
    refresh_run_status,
    set_step,
    snapshot_path,
    snapshots_dir,
    step_dir,
    syslog,
    touch_run,
)
from backends.local.models import LocalRun, LocalStep
from backends.local.spec import PipelineSpec, StepSpec, render_command
from backends.local.watchdog import (
    DatabaseLease,
    database_loss_limit,
    give_up_after,
    reconnect,
    through_outage,
)

log = logging.getLogger(__name__)

S = RunStatus
T = TypeVar("T")
POLL_SECONDS = 0.25
CANCEL_GRACE_SECONDS = 2.0


# --- one step -------------------------------------------------------------------------------


def execute_step(step_id: str) -> None:
    """Run one queued step to its end. Called by the Celery task on the steps queue."""
    now = timezone.now()
    if not set_step(
        step_id, [S.QUEUED], status=S.PREPARING, host=HOST, pid=None, task_pid=os.getpid(), heartbeat_at=now
    ):
        return  # canceled meanwhile, or another worker has it
    step = LocalStep.objects.select_related("run").get(pk=step_id)
    run = step.run
    spec = PipelineSpec.from_dict(run.spec)
    job = spec.jobs[step.node_id]
    try:
        inputs = staging.fetch_remote_inputs(step, job, _resolve_inputs(spec, job, run.id))
        if job.code and not job.snapshot:  # a run submitted before snapshots were taken at submit
            job.snapshot = runtime.take_snapshot(job.code, snapshots_dir())
        if not (spec.force_rerun or not job.is_deterministic):
            fingerprint = _fingerprint(job, inputs)
            LocalStep.objects.filter(pk=step_id).update(fingerprint=fingerprint)
            if _reuse(step, fingerprint):
                # Canceled while it was being fingerprinted: it ends Canceled, not reused.
                set_step(step_id, [S.CANCEL_REQUESTED], status=S.CANCELED, finished_at=timezone.now())
                advance(run.id)
                return
        wd = runtime.working_dir(step_dir(step), snapshot_path(job.snapshot) if job.snapshot else None)
        outputs = _prepare_outputs(step, job, wd)
        command = render_command(job.command, inputs, outputs)
        from backends.local.environments import prepare_step  # it builds on this module

        job = prepare_step(step, job)  # its environment, built when needed: first on the command's PATH
        env = _step_env(job, step, run, spec, inputs, outputs)
    except Exception as exc:  # a step that cannot even start fails with the reason, not a stuck run
        log.exception("step %s could not start", step_id)
        finish(step, S.FAILED, error=f"The step could not start: {exc}")
        advance(run.id)
        return
    try:
        _run_process(step, job, command, env, wd, inputs, outputs)
        _record(step, lambda: advance(run.id))
    except DatabaseError as error:
        # Its processes are stopped (_run_process); the heartbeat check ends the step where the database is.
        log.warning("step %s: the database was lost at its end (%s)", step_id, error)
        reconnect()


def _resolve_inputs(spec: PipelineSpec, job: StepSpec, run_id: str) -> dict[str, Any]:
    upstream_outputs: dict[str, dict[str, str]] = {}
    values: dict[str, Any] = {}
    for name, binding in job.inputs.items():
        if binding.kind == "literal":
            values[name] = binding.value
        elif binding.kind == "pipeline_input":
            values[name] = spec.inputs[binding.source].default
        elif binding.kind == "step_output":
            if binding.source not in upstream_outputs:
                upstream_outputs[binding.source] = LocalStep.objects.get(
                    run_id=run_id, node_id=binding.source
                ).outputs
            values[name] = upstream_outputs[binding.source][binding.output]
        else:
            values[name] = None
    return values


def _prepare_outputs(step: LocalStep, job: StepSpec, wd: Path) -> dict[str, str]:
    # What the step writes to ./outputs is its artifacts output, as on Azure ML (unless it names one so itself).
    outputs = {runtime.ARTIFACTS: str(wd / "outputs")}
    for name, out in job.outputs.items():
        path = step_dir(step) / "outputs" / name
        if out.type == "uri_file":
            path.parent.mkdir(parents=True, exist_ok=True)
        else:
            path.mkdir(parents=True, exist_ok=True)
        outputs[name] = str(path)
    return outputs


def _step_env(
    job: StepSpec,
    step: LocalStep,
    run: LocalRun,
    spec: PipelineSpec,
    inputs: dict[str, Any],
    outputs: dict[str, str],
) -> dict[str, str]:
    env = dict(os.environ)
    # `python` in a command means the interpreter Runboard runs on, even where only python3 is on PATH.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update({k: str(v) for k, v in job.environment_variables.items()})
    env["RUNBOARD_RUN_ID"] = step.run_id
    env["RUNBOARD_STEP_ID"] = step.pk
    env["RUNBOARD_STEP_NAME"] = step.node_id
    env.update(
        runtime.azureml_variables(
            run_id=run.pk,
            step_id=step.pk,
            is_command_job=spec.kind == "command",
            experiment=run.experiment_name,
            inputs=inputs,
            outputs=outputs,
        )
    )
    return env


def _run_process(
    step: LocalStep,
    job: StepSpec,
    command: str,
    env: dict[str, str],
    wd: Path,
    inputs: dict[str, Any],
    outputs: dict[str, str],
) -> None:
    """Start the step's command (once per process of a distributed job, all in one process group) in its working
    directory, then watch it: heartbeats, cancel, timeout; a process that fails stops the others."""
    variables = runtime.process_variables(job.distribution, job.instance_count)
    logs = runtime.process_log_names(len(variables))
    log_path(step, "stdout").parent.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []
    die_with_task = hosts.die_with_parent()
    try:
        for extra, (out_name, err_name) in zip(variables, logs, strict=True):
            with log_path(step, out_name).open("ab") as out, log_path(step, err_name).open("ab") as err:
                procs.append(
                    subprocess.Popen(
                        ["/bin/bash", "-c", command],
                        cwd=wd,
                        env={**env, **extra},
                        stdout=out,
                        stderr=err,
                        stdin=subprocess.DEVNULL,
                        # A group of their own (the first's pid), out of the worker's: cancel reaches every
                        # process and every child they start, and a signal to the worker's group does not.
                        process_group=procs[0].pid if procs else 0,
                        # And SIGKILL when the task's process dies (kill -9, out of memory): none outlives it.
                        preexec_fn=die_with_task,
                    )
                )
    except (OSError, subprocess.SubprocessError) as error:
        if procs:
            kill_leftovers(procs[0].pid)
        finish(step, S.FAILED, error=f"The step could not start process {len(procs)}: {error}")
        return
    pgid = procs[0].pid
    lease = DatabaseLease(pgid)
    lease.start()
    try:
        _mark_running(step, job, procs, command, inputs, outputs, wd, lease)
        lease.renew()
        stop_reason, failed = _watch(step, job, procs, lease)
    finally:
        # However the watch ended (an error, the worker stopping the task), nothing of the step outlives it.
        lease.stop()
        kill_leftovers(pgid)
    codes = [p.returncode for p in procs]
    code = codes[failed] if failed is not None else next((c for c in codes if c), 0)
    syslog(step, "Exit code " + (str(code) if len(procs) == 1 else ", ".join(map(str, codes))))
    outcome = _outcome(step, job, stop_reason, procs, failed, logs)
    if outcome is not None:
        status, exit_code, error = outcome
        _record(step, lambda: finish(step, status, exit_code=exit_code, error=error))


def _outcome(
    step: LocalStep,
    job: StepSpec,
    stop_reason: str,
    procs: list[subprocess.Popen],
    failed: int | None,
    logs: list[tuple[str, str]],
) -> tuple[str, int | None, str] | None:
    """How the step ended: (status, exit code, error), or None when it was ended elsewhere."""
    codes = [p.returncode for p in procs]
    code = codes[failed] if failed is not None else next((c for c in codes if c), 0)
    if stop_reason == "cancel":
        return S.CANCELED, code, "Canceled."
    if stop_reason == "timeout":
        return (
            S.FAILED,
            code,
            f"Timed out: the step ran longer than its limits.timeout of {job.timeout} s and was stopped.",
        )
    if stop_reason == "failed elsewhere":
        return None
    if stop_reason == "database lost":
        limit = int(database_loss_limit().total_seconds())
        error = f"The worker on {hosts.hostname_of(HOST)} lost the database for more than {limit} s: step stopped."
        syslog(step, error)
        return S.FAILED, code, error
    if failed is not None or any(codes):
        index = failed if failed is not None else next(i for i, c in enumerate(codes) if c)
        message = _failure_message(step, codes[index], logs[index])
        if len(procs) > 1:
            message = f"Process {index} of {len(procs)}: {message}"
        return S.FAILED, codes[index], message
    return S.COMPLETED, 0, ""


def _record(step: LocalStep, write: Callable[[], T]) -> T:
    """A write at the end of a step, through a database outage up to the loss limit: a step that completed is
    recorded Completed, not left for the reaper to declare Failed."""
    limit = database_loss_limit().total_seconds()
    return through_outage(write, give_up=give_up_after(limit), note=lambda message: syslog(step, message))


def _mark_running(
    step: LocalStep,
    job: StepSpec,
    procs: list[subprocess.Popen],
    command: str,
    inputs: dict[str, Any],
    outputs: dict[str, str],
    wd: Path,
    lease: DatabaseLease,
) -> None:
    """Record the started processes. An outage meanwhile is waited out, as the watch does, while the lease runs:
    the processes are stopped only when the database stays out of reach past the loss limit."""
    pgid = procs[0].pid
    started = timezone.now()

    def through(write: Callable[[], T]) -> T:
        return through_outage(write, give_up=lease.expired.is_set, note=lambda message: syslog(step, message))

    if not through(
        lambda: set_step(
            step.pk,
            [S.PREPARING],
            status=S.RUNNING,
            pid=pgid,
            started_at=started,
            heartbeat_at=started,
            command=command,
            inputs={k: v for k, v in inputs.items()},
            outputs=outputs,
        )
    ):
        # Canceled while preparing (or marked by a try whose answer was lost): record what runs; the watch stops
        # it if it was canceled.
        through(
            lambda: LocalStep.objects.filter(pk=step.pk).update(pid=pgid, started_at=started, command=command)
        )
    step.pid = pgid
    pids = ", ".join(str(p.pid) for p in procs)
    where = f"{hosts.hostname_of(HOST)} (host {HOST})"
    syslog(step, f"Started on {where}, process{'es' if len(procs) > 1 else ''} {pids}, in {wd}")
    if job.distribution:
        kind = job.distribution["type"]
        syslog(step, f"Distribution {kind}: {len(procs)} processes; process i logs to stdout.i and stderr.i")
    syslog(step, f"Command: {command}")
    through(lambda: (touch_run(step.run_id), refresh_run_status(step.run_id)))


def _watch(
    step: LocalStep, job: StepSpec, procs: list[subprocess.Popen], lease: DatabaseLease
) -> tuple[str, int | None]:
    """Wait for every process to end, sending heartbeats. Returns why they were stopped ("" if they all ended by
    themselves) and the index of the first process that failed, if one did.

    A database that cannot be reached is tried again on each round; the lease stops the processes when it stays
    out of reach too long, and once it answers again a step the others ended meanwhile is stopped here too."""
    deadline = time.monotonic() + job.timeout if job.timeout else None
    next_beat = time.monotonic() + HEARTBEAT_SECONDS
    while True:
        try:
            procs[0].wait(timeout=POLL_SECONDS) if len(procs) == 1 else time.sleep(POLL_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        codes = [p.poll() for p in procs]
        failed = next((i for i, c in enumerate(codes) if c), None)
        if all(c is not None for c in codes):
            return ("database lost" if lease.expired.is_set() else ""), failed
        if lease.expired.is_set():
            continue  # the lease is stopping them: wait for them to end
        stop_reason = ""
        status = _read_status(step, lease)
        if status in (S.CANCEL_REQUESTED, S.CANCELED):
            stop_reason = "cancel"
        elif status in (S.FAILED, S.COMPLETED):
            stop_reason = "failed elsewhere"  # e.g. the heartbeat check gave up on it
        elif deadline and time.monotonic() > deadline:
            stop_reason = "timeout"
        elif failed is not None:
            stop_reason = "process failed"  # the others would wait for it for ever
        if stop_reason:
            syslog(step, f"Stopping ({stop_reason}): SIGTERM to process group {procs[0].pid}")
            _terminate(procs)
            return stop_reason, failed
        if status is not None and time.monotonic() >= next_beat:
            _beat(step, lease)
            next_beat = time.monotonic() + HEARTBEAT_SECONDS


def _read_status(step: LocalStep, lease: DatabaseLease) -> str | None:
    """The step's status as stored, or None when the database cannot be reached."""
    try:
        status = LocalStep.objects.filter(pk=step.pk).values_list("status", flat=True).first()
    except DatabaseError as error:
        if not lease.lost:  # said once an outage
            syslog(step, f"The database cannot be reached ({str(error).strip()[:200]}): trying again")
        lease.lost = True
        reconnect()
        return None
    if lease.lost:
        syslog(step, f"The database answers again, {lease.silent_for():.0f} s after the last heartbeat")
        lease.lost = False
    return status


def _beat(step: LocalStep, lease: DatabaseLease) -> None:
    """Write the heartbeat; only a written one renews the lease, as only it keeps the step alive elsewhere."""
    try:
        LocalStep.objects.filter(pk=step.pk).update(heartbeat_at=timezone.now())
        if set_step(step.pk, [S.NOT_RESPONDING], status=S.RUNNING):
            syslog(step, "Running again: its heartbeats are back")
            refresh_run_status(step.run_id)
    except DatabaseError:
        lease.lost = True
        reconnect()
        return
    lease.renew()


def _failure_message(step: LocalStep, code: int, logs: tuple[str, str] = ("stdout", "stderr")) -> str:
    if code < 0:
        return f"The process was killed by signal {signal.Signals(-code).name}."
    last_line = _last_line(log_path(step, logs[1])) or _last_line(log_path(step, logs[0]))
    message = f"Exit code {code}."
    return f"{message} {last_line}" if last_line else message


def _last_line(path: Path, window: int = 4096) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - window))
            lines = [ln.strip() for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:500] if lines else ""


def _terminate(procs: list[subprocess.Popen]) -> None:
    try:
        os.killpg(procs[0].pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    grace = time.monotonic() + CANCEL_GRACE_SECONDS
    try:
        for proc in procs:
            proc.wait(timeout=max(0.0, grace - time.monotonic()))
    except subprocess.TimeoutExpired:
        kill_leftovers(procs[0].pid)
        for proc in procs:
            proc.wait()


# --- reuse ----------------------------------------------------------------------------------


def _fingerprint(job: StepSpec, inputs: dict[str, Any]) -> str:
    h = hashlib.sha256()
    described = {
        "command": job.command,
        "environment": job.environment,
        "environment_definition": envspec.digest(job.environment_definition),
        "environment_variables": job.environment_variables,
        "inputs": {
            name: (_digest_path(value) if job.inputs[name].type in ("uri_file", "uri_folder") else value)
            for name, value in sorted(inputs.items())
        },
        "outputs": sorted(job.outputs),
        "distribution": [job.distribution, job.instance_count],
        "snapshot": job.snapshot,  # the code the step runs, as submitted
    }
    h.update(json.dumps(described, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _digest_path(value: Any) -> str:
    """Content digest of a file or folder, so equal data from different runs hashes the same."""
    if value is None:
        return "none"
    path = Path(value)
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if "__pycache__" in file.parts:
            continue
        h.update(str(file.relative_to(path) if file != path else file.name).encode() + b"\0")
        with file.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _reuse(step: LocalStep, fingerprint: str) -> bool:
    earlier = (
        LocalStep.objects.filter(fingerprint=fingerprint, status=S.COMPLETED, reused_step__isnull=True)
        .exclude(run_id=step.run_id)
        .order_by("-finished_at")
        .first()
    )
    if earlier is None:
        return False
    now = timezone.now()
    if set_step(
        step.pk,
        [S.PREPARING],
        status=S.COMPLETED,
        reused_step=earlier,
        outputs=earlier.outputs,
        inputs=earlier.inputs,
        command=earlier.command,
        exit_code=earlier.exit_code,
        started_at=now,
        finished_at=now,
    ):
        syslog(
            step,
            f"Reused step '{earlier.node_id}' ({earlier.pk}) of run {earlier.run_id}: same command, code and inputs.",
        )
        touch_run(step.run_id)
    return True
