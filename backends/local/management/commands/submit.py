"""python manage.py submit JOB.yml [--set NAME=VALUE ...] [--experiment NAME] [--backend NAME] [--wait]"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backends import registry
from backends.base import BackendErrorBase, RunStatus
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
        parser.add_argument("--backend", default="local", help="a backend from RUNBOARD_BACKENDS")
        parser.add_argument("--submitted-by", default="cli")

    def handle(self, *args, pipeline, sets, experiment, wait, backend, submitted_by, **options):
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
        if not wait:
            return
        status = self._wait(engine, info.id)
        if status != RunStatus.COMPLETED:
            raise CommandError(f"run {info.id} ended {status}")

    def _wait(self, engine, run_id: str) -> str:
        seen: dict[str, str] = {}
        while True:
            info = engine.get_run(run_id)
            steps = info.steps if info.steps is not None else engine.get_steps(run_id)
            changes = [(s.node_id, s.status, s.error) for s in steps if seen.get(s.node_id) != s.status]
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
                return info.status
            time.sleep(0.5 if engine.engine == "local" else 5)
