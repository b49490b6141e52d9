"""``manage.py validate JOB.yml [--set NAME=VALUE ...]``: check job and pipeline files without running them."""

import os

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backends.local import config as local_config
from backends.local import runtime
from backends.local.envspec import EnvironmentSpec
from backends.local.spec import PipelineSpec, SpecError, load_pipeline, parse_set_options


class Command(BaseCommand):
    help = (
        "Load Azure ML CLI v2 job and pipeline files without running them: print each one's steps and edges, "
        "or its problems as file:line: field: message (exit status 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("pipelines", nargs="+", metavar="JOB.yml")
        parser.add_argument(
            "--set",
            dest="sets",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="an input value, as submit --set gives it",
        )

    def handle(self, *args: object, pipelines: list[str], sets: list[str], **options: object) -> None:
        try:
            values = parse_set_options(sets)
        except ValueError as error:
            raise CommandError(str(error)) from None
        failed = 0
        for path in pipelines:
            try:
                spec = load_pipeline(path, config=local_config.current())
                spec = spec.with_parameters(values, local_config.current()) if values else spec
                if spec.kind != "component" and (missing := spec.missing_values()):
                    raise SpecError(missing)
            except SpecError as error:
                if len(pipelines) == 1:  # its problems alone; a count of one adds nothing
                    raise CommandError(str(error)) from None
                self.stderr.write(str(error))
                failed += 1
            else:
                self.describe(path, spec)
        if failed:
            raise CommandError(f"{failed} of {len(pipelines)} files are invalid")

    def describe(self, path: str, spec: PipelineSpec) -> None:
        title = spec.display_name or spec.name or path
        counts = f"{_count(len(spec.jobs), 'step')}, {_count(len(spec.edges), 'edge')}"
        what = {"command": "command job", "component": f"pipeline component, {counts}"}.get(spec.kind, counts)
        self.stdout.write(self.style.SUCCESS(f"{path}: {title}: {what}"))
        for name, value in spec.inputs.items():
            self.stdout.write(f"  input  {name} ({value.type}) = {value.default!r}")
        self.stdout.write("steps:")
        for name in spec.topological_order():
            step = spec.jobs[name]
            component = os.path.relpath(step.component) if step.component else "inline"
            self.stdout.write(f"  {name}  [{component}]")
            self.stdout.write(f"      {' '.join(step.command.split())}")
            if step.distribution:
                processes = runtime.process_count(step.distribution, step.instance_count)
                self.stdout.write(f"      {step.distribution['type']}: {_count(processes, 'process')}")
            if environment := EnvironmentSpec.from_dict(step.environment_definition):
                built = "built when the step runs" if environment.builds else "runs on the worker's Python"
                self.stdout.write(f"      environment {environment.describe()}: {environment.kind}, {built}")
        self.stdout.write("edges:")
        for e in spec.edges:
            self.stdout.write(f"  {e.source_step}.{e.source_output} -> {e.target_step}.{e.target_input}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 'es' if noun.endswith('s') else 's'}"
