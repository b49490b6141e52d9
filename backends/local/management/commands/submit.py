"""python manage.py submit JOB.yml [--set NAME=VALUE ...] [--experiment NAME] [--backend NAME] [--wait [--stream]]"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backends import registry
from backends.base import Backend, BackendErrorBase, RunInfo, RunStatus, StepInfo
from backends.local.spec import SpecError, parse_set_options
from runs.sync import mirror_run


class Command(BaseCommand):
    help = (
        "Submit an Azure ML CLI v2 job or pipeline YAML to a backend (the local engine unless --backend names "
        "another) and print the run's id and URL."
    )

    def add_arguments(self, parser):
        parser.add_argument("pipeline", help="an Azure ML CLI v2 job or pipeline YAML file")
        parser.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE")
        parser.add_argument("--experiment", default="")
        parser.add_argument("--wait", action="store_true", help="print status changes until the run ends")
        parser.add_argument(
            "--stream", action="store_true", help="with --wait, print the steps' logs as they grow, by step"
        )
        parser.add_argument("--backend", default="local", help="a backend from RUNBOARD_BACKENDS")
        parser.add_argument("--submitted-by", default="cli")

    def handle(self, *args, pipeline, sets, experiment, wait, stream, backend, submitted_by, **options):
        if backend not in registry.names():
            raise CommandError(f"no backend named {backend!r}; configured: {', '.join(registry.names())}")
        engine = registry.get_backend(backend)
        try:
            parameters = parse_set_options(sets)
            info = engine.submit_file(
                pipeline, parameters=parameters, experiment=experiment, submitted_by=submitted_by
            )
        except (SpecError, ValueError, BackendErrorBase) as exc:
            raise CommandError(str(exc)) from None
        except FileNotFoundError:
            raise CommandError(f"{pipeline}: no such file") from None
        run = mirror_run(engine, info)
        self.stdout.write(f"{info.id}\n{settings.PUBLIC_URL}{run.get_absolute_url()}")
        if info.url:
            self.stdout.write(f"{info.url}")
        if not wait and not stream:
            return
        info = self._wait(engine, info.id, LogFollower(engine, info.id, self.stdout) if stream else None)
        self.stdout.write(f"run {info.id} {info.status}: {settings.PUBLIC_URL}{run.get_absolute_url()}")
        if info.status != RunStatus.COMPLETED:
            raise CommandError(f"run {info.id} ended {info.status}")

    def _wait(self, engine, run_id: str, logs: LogFollower | None) -> RunInfo:
        seen: dict[str, str] = {}
        while True:
            info = engine.get_run(run_id)
            steps = info.steps if info.steps is not None else engine.get_steps(run_id)
            changes = [(s.node_id, s.status, s.error) for s in steps if seen.get(s.node_id) != s.status]
            if logs:
                logs.follow(steps)
            if seen.get("") != info.status:
                changes.append(("", info.status, ""))
            for node_id, status, error in changes:
                seen[node_id] = status
                label = f"step {node_id}" if node_id else "run"
                # A failed step says why, so that a failure in Preparing is understood without the page.
                why = f": {error}" if error and status == RunStatus.FAILED else ""
                self.stdout.write(f"{time.strftime('%H:%M:%S')} {label} {status}{why}")
            if changes:
                mirror_run(engine, info)
            if RunStatus.is_terminal(info.status):
                if logs:
                    logs.follow(steps, last=True)
                return info
            time.sleep(0.5 if engine.engine == "local" else 5)


class LogFollower:
    """Prints what each step's logs gained since the last look, line by line, each line prefixed by its step, as
    ``az ml job stream`` does. System logs are left out (a failed step's error is printed at the end)."""

    CHUNK = 256 * 1024  # read at a time; at most ROUNDS of them per log per look, so a look is bounded
    ROUNDS = 16

    def __init__(self, engine: Backend, run_id: str, out) -> None:
        self.engine, self.run_id, self.out = engine, run_id, out
        self.offsets: dict[tuple[str, str], int] = {}
        self.partial: dict[tuple[str, str], str] = {}

    def follow(self, steps, last: bool = False) -> None:
        for step in steps:
            if step.status in (RunStatus.NOT_STARTED, RunStatus.QUEUED) and not last:
                continue
            for name in step.log_names:
                if "system" not in name.lower():
                    self.read(step, name, last)

    def read(self, step: StepInfo, name: str, last: bool) -> None:
        key = (step.id, name)
        prefix = (
            f"[{step.node_id}] " if name in ("stdout", step.log_names[0]) else f"[{step.node_id} {name}] "
        )
        for _ in range(self.ROUNDS):
            try:
                chunk = self.engine.read_log(self.run_id, step.id, name, self.offsets.get(key, 0), self.CHUNK)
            except BackendErrorBase:
                return  # not written yet, or gone; the next look tries again
            self.offsets[key] = chunk.next_offset
            text = self.partial.pop(key, "") + chunk.data.decode("utf-8", errors="replace")
            lines = text.split("\n")
            if lines[-1]:
                self.partial[key] = lines[-1]
            for line in lines[:-1]:
                self.out.write(prefix + line.rstrip("\r"))
            if not chunk.data or chunk.next_offset >= chunk.size:
                break
        if last and (rest := self.partial.pop(key, "")):
            self.out.write(prefix + rest)
