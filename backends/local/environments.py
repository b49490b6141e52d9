"""Environments: each definition a step asks for is built once, in the engine folder, and every step that asks
for the same again runs in that one, with its ``bin`` first on PATH.

Under the engine folder, which every worker shares (on one host or several):

    environments/<key>/                      a complete environment (a relocatable virtual environment)
    environments/logs/<key>.txt              the output of its last build
    environments/.building/<key>-<token>/    a build under way, renamed to <key> only when complete
    environments/.trash/                     environments being removed
    environments/.uv-cache/                  downloaded packages, shared by every build

``<key>`` is the hash of what is installed on which Python (conda.Plan.key). The LocalEnvironment row is the
build's lock: one step claims it with a conditional update, steps that need it meanwhile wait (bounded) and then
use it; a builder whose heartbeat stops is taken over. A half-built environment is never used: only a complete
one is renamed into place.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import secrets
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone

from backends.base import RunStatus
from backends.local import conda, envbuild, executor, hosts
from backends.local import config as local_config
from backends.local.environment_models import LocalEnvironment, LocalEnvironmentUse
from backends.local.envspec import IMAGE, EnvironmentSpec
from backends.local.executor import syslog
from backends.local.models import LocalStep
from backends.local.spec import StepSpec

S = RunStatus
E = LocalEnvironment.Status
BUILD_TIMEOUT = 30 * 60  # seconds: a big environment (torch) takes minutes, none takes half an hour
WAIT_TIMEOUT = BUILD_TIMEOUT + 120  # seconds a step waits for another's build of the same environment
STALE_AFTER = timedelta(seconds=60)  # a build without a heartbeat for this long lost its worker
POLL_SECONDS = 0.25


class EnvironmentUnavailable(RuntimeError):
    """The step's environment cannot be had: refused, failed to build, or waited for too long."""


class StepStopped(Exception):
    """The step was canceled (or given up on) while its environment was prepared."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the step is {status}")
        self.status = status


class CannotRemove(RuntimeError):
    pass


# --- where things live ----------------------------------------------------------------------


def root() -> Path:
    return executor.engine_dir() / "environments"


def folder(key: str) -> Path:
    return root() / key


def build_log(key: str) -> Path:
    return root() / "logs" / f"{key}.txt"


def disk_size(path: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def megabytes(size: int | None) -> str:
    return "?" if size is None else f"{size / 1_000_000:.1f} MB"


# --- a step's environment -------------------------------------------------------------------


def prepare_step(step: LocalStep, job: StepSpec) -> StepSpec:
    """``job`` to run in its environment (built first when needed), while the step is Preparing.

    Raises EnvironmentUnavailable with the reason the step fails; a step canceled meanwhile ends Canceled.
    """
    try:
        return prepare(step, job, build=local_config.current().build_environments)
    except StepStopped as stopped:
        if stopped.status == S.CANCEL_REQUESTED:
            executor.finish(step, S.CANCELED, error="Canceled.")
        raise


def prepare(step: LocalStep, job: StepSpec, *, build: bool) -> StepSpec:
    spec = EnvironmentSpec.from_dict(job.environment_definition)
    if spec is None:
        return job
    worker = f"the worker's own Python ({platform.python_version()}, {sys.executable})"
    if not spec.builds:
        if spec.kind == IMAGE:
            syslog(
                step,
                f"Environment '{spec.name}' is a Docker image, which the local engine does not run: "
                f"the step runs on {worker}.",
            )
        else:
            syslog(
                step,
                f"Environment '{spec.name}' is registered in Azure ML, which the local engine cannot "
                f"fetch: the step runs on {worker}. To build it here, map its name to a local conda or "
                "requirements file under environments: in the local engine's settings.",
            )
        return job
    if not build:
        syslog(
            step, f"Environment building is off (RUNBOARD_BUILD_ENVIRONMENTS=0): the step runs on {worker}."
        )
        return job
    try:
        plan = conda.plan(spec)
    except conda.Refused as refused:
        raise EnvironmentUnavailable(f"its environment cannot be built: {refused}") from None
    syslog(
        step,
        f"Environment {spec.describe()}: {len(plan.requirements)} requirements on Python {plan.python}, "
        f"key {plan.key}",
    )
    for note in plan.notes:
        syslog(step, note)
    path = ensure(spec, plan, step)
    variables = {"PATH": f"{path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", "VIRTUAL_ENV": str(path)}
    # A variable the job sets itself wins, as it would over the image's in Azure ML.
    return dataclasses.replace(job, environment_variables={**variables, **job.environment_variables})


class _Watch:
    """Heartbeats for the step (and the build it holds) while it prepares; notices the step being stopped."""

    def __init__(self, step: LocalStep) -> None:
        self.step = step
        self.building: LocalEnvironment | None = None
        self.next_beat = 0.0

    def tick(self) -> None:
        status = LocalStep.objects.filter(pk=self.step.pk).values_list("status", flat=True).first()
        if status in (S.CANCEL_REQUESTED, S.CANCELED, S.FAILED):
            raise StepStopped(status)
        if time.monotonic() < self.next_beat:
            return
        now = timezone.now()
        LocalStep.objects.filter(pk=self.step.pk).update(heartbeat_at=now)
        if executor.set_step(self.step.pk, [S.NOT_RESPONDING], status=S.PREPARING):
            executor.refresh_run_status(self.step.run_id)
        if self.building is not None:
            held = LocalEnvironment.objects.filter(pk=self.building.pk, attempt=self.building.attempt)
            if not held.update(heartbeat_at=now):
                raise envbuild.BuildFailed("another worker took this build over")
        self.next_beat = time.monotonic() + executor.HEARTBEAT_SECONDS


def ensure(spec: EnvironmentSpec, plan: conda.Plan, step: LocalStep) -> Path:
    """The complete environment for ``plan``: built by this step, or by another that this one waited for."""
    watch = _Watch(step)
    key, path = plan.key, folder(plan.key)
    waited_on: int | None = None
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        watch.tick()
        row = LocalEnvironment.objects.filter(pk=key).first()
        if row is not None and row.status == E.READY and (path / "bin" / "python").exists():
            if _use(row, step):
                built = f"built {row.built_at:%Y-%m-%d %H:%M:%S}" if row.built_at else "built"
                syslog(step, f"Using environment {key} ({built}, {megabytes(row.size_bytes)}): {path}")
                return path
            continue
        if row is not None and row.status == E.FAILED and row.attempt == waited_on:
            raise EnvironmentUnavailable(f"its environment {key} failed to build: {row.error}")
        if row is None or not _busy(row):
            if (claimed := _claim(row, key, spec, plan, step)) is not None:
                if row is not None and row.status == E.BUILDING:
                    syslog(
                        step, f"Taking over the build of environment {key}: {row.builder} stopped answering."
                    )
                watch.building = claimed
                return _build(claimed, plan, step, watch)
            continue
        if waited_on != row.attempt:
            waited_on = row.attempt
            doing = "building" if row.status == E.BUILDING else "removing"
            syslog(step, f"Waiting for environment {key}: {row.builder or 'someone'} is {doing} it.")
        if time.monotonic() > deadline:
            raise EnvironmentUnavailable(f"waited {WAIT_TIMEOUT} s for environment {key} ({row.builder})")
        time.sleep(POLL_SECONDS)


def _busy(row: LocalEnvironment) -> bool:
    if row.status == E.REMOVING:
        return True
    fresh = row.heartbeat_at is not None and row.heartbeat_at >= timezone.now() - STALE_AFTER
    return row.status == E.BUILDING and fresh


def _claim(
    row: LocalEnvironment | None, key: str, spec: EnvironmentSpec, plan: conda.Plan, step: LocalStep
) -> LocalEnvironment | None:
    """The row, claimed for this step to build; None when another step claimed it first."""
    now = timezone.now()
    fields = {
        "status": E.BUILDING,
        "name": spec.name,
        "kind": spec.kind,
        "source": spec.source,
        "definition": spec.text,
        "requirements": "\n".join(plan.requirements),
        "python": plan.python,
        "interpreter": plan.interpreter,
        "error": "",
        "builder": f"step {step.node_id} of run {step.run_id} on {hosts.hostname_of(executor.HOST)}",
        "heartbeat_at": now,
        "started_at": now,
        "built_at": None,
        "build_seconds": None,
        "size_bytes": None,
    }
    if row is None:
        try:
            with transaction.atomic():
                return LocalEnvironment.objects.create(key=key, attempt=1, **fields)
        except IntegrityError:
            return None
    if LocalEnvironment.objects.filter(pk=key, attempt=row.attempt).update(attempt=row.attempt + 1, **fields):
        return LocalEnvironment.objects.get(pk=key)
    return None


def _build(row: LocalEnvironment, plan: conda.Plan, step: LocalStep, watch: _Watch) -> Path:
    key, path, log = row.key, folder(row.key), build_log(row.key)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"{timezone.now():%Y-%m-%d %H:%M:%S} Building environment {key} for {row.builder}\n")
    for leftover in (root() / ".building").glob(f"{key}-*"):  # of a build whose worker died
        shutil.rmtree(leftover, ignore_errors=True)
    temp = root() / ".building" / f"{key}-{secrets.token_hex(4)}"
    syslog(step, f"Building environment {key}; its log: {log}")
    started = time.monotonic()
    mine = LocalEnvironment.objects.filter(pk=key, attempt=row.attempt)
    try:
        envbuild.build(
            plan,
            temp,
            log,
            cache=root() / ".uv-cache",
            tick=watch.tick,
            show=lambda line: syslog(step, f"  {line}"),
            timeout=BUILD_TIMEOUT,
        )
        size = disk_size(temp)
        if path.exists():  # a broken environment left by an earlier build: out of the way first
            _discard(path)
        os.rename(temp, path)
    except StepStopped:
        mine.delete()  # nothing failed: whichever step needs it next builds it
        raise
    except (envbuild.BuildFailed, OSError) as exc:
        mine.update(
            status=E.FAILED, error=str(exc), heartbeat_at=None, build_seconds=time.monotonic() - started
        )
        with log.open("a", encoding="utf-8") as fh:
            fh.write(f"Failed: {exc}\n")
        raise EnvironmentUnavailable(f"its environment {key} failed to build: {exc}") from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    seconds = time.monotonic() - started
    mine.update(
        status=E.READY, built_at=timezone.now(), build_seconds=seconds, size_bytes=size, heartbeat_at=None
    )
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"Built in {seconds:.1f} s: {megabytes(size)}\n")
    syslog(step, f"Built environment {key} in {seconds:.1f} s ({megabytes(size)}): {path}")
    row.refresh_from_db()
    if not _use(row, step):
        raise EnvironmentUnavailable(f"its environment {key} was removed as soon as it was built")
    return path


def _use(row: LocalEnvironment, step: LocalStep) -> bool:
    """Records that ``step`` runs in the environment, unless it is being removed (then False).

    The use is recorded before the status is checked again, so a removal either sees this step among the
    environment's users (and refuses) or has already begun (and this step waits for a new build).
    """
    try:
        with transaction.atomic():
            use = LocalEnvironmentUse.objects.create(environment_id=row.pk, step_id=step.pk)
    except IntegrityError:  # the environment's row went away meanwhile
        return False
    ready = LocalEnvironment.objects.filter(pk=row.pk, status=E.READY, attempt=row.attempt)
    if ready.update(last_used_at=timezone.now()):
        return True
    use.delete()
    return False


def _discard(path: Path) -> None:
    """Out of sight at once (a rename), then deleted: no step ever sees a half-deleted environment."""
    trash = root() / ".trash" / f"{path.name}-{secrets.token_hex(4)}"
    trash.parent.mkdir(parents=True, exist_ok=True)
    os.rename(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


# --- the environments page ------------------------------------------------------------------


def remove(key: str) -> str:
    """Delete a built (or failed) environment, its log and its row; CannotRemove while a step uses it."""
    row = LocalEnvironment.objects.filter(pk=key).first()
    if row is None:
        raise CannotRemove(f"there is no environment {key}")
    if row.status in (E.BUILDING, E.REMOVING):
        raise CannotRemove(f"environment {key} is being {'built' if row.status == E.BUILDING else 'removed'}")
    claimed = LocalEnvironment.objects.filter(pk=key, attempt=row.attempt, status=row.status)
    if not claimed.update(status=E.REMOVING):
        raise CannotRemove(f"environment {key} changed meanwhile; try again")
    live = LocalStep.objects.filter(environment_uses__environment_id=key, status__in=executor.LIVE).distinct()
    users = [f"step {s.node_id} of run {s.run_id}" for s in live[:5]]
    if users:
        LocalEnvironment.objects.filter(pk=key, status=E.REMOVING).update(status=row.status)
        raise CannotRemove(f"environment {key} is in use by {', '.join(users)}")
    if folder(key).exists():
        _discard(folder(key))
    build_log(key).unlink(missing_ok=True)
    LocalEnvironment.objects.filter(pk=key).delete()
    return f"Removed environment {key} ({megabytes(row.size_bytes)})."


@dataclasses.dataclass
class Listed:
    environment: LocalEnvironment
    uses: list[LocalEnvironmentUse]  # the latest, newest first, with their steps
    use_count: int


def listing(limit: int = 100, latest_uses: int = 5) -> list[Listed]:
    """The environments most recently used first (never used ones last), each with its latest uses."""
    rows = LocalEnvironment.objects.annotate(use_count=Count("uses")).order_by(
        F("last_used_at").desc(nulls_last=True), "-created_at"
    )[:limit]
    return [
        Listed(
            environment=row,
            uses=list(row.uses.select_related("step").order_by("-used_at", "-pk")[:latest_uses]),
            use_count=row.use_count,
        )
        for row in rows
    ]
