"""``manage.py validate PIPELINE.yml``: check a pipeline file without running it."""

import os

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backends.local import config as local_config
from backends.local.envspec import EnvironmentSpec
from backends.local.spec import PipelineSpec, SpecError, load_pipeline


class Command(BaseCommand):
    help = (
        "Load Azure ML CLI v2 pipeline files without running them: print each one's steps and edges, "
        "or its problems as file:line: field: message (exit status 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("pipelines", nargs="+", metavar="PIPELINE.yml")

    def handle(self, *args: object, pipelines: list[str], **options: object) -> None:
        failed = 0
        for path in pipelines:
            try:
                spec = load_pipeline(path, config=local_config.current())
            except SpecError as error:
                if len(pipelines) == 1:  # its problems alone; a count of one adds nothing
                    raise CommandError(str(error)) from None
                self.stderr.write(str(error))
                failed += 1
            else:
                self.describe(path, spec)
        if failed:
            raise CommandError(f"{failed} of {len(pipelines)} pipeline files are invalid")

    def describe(self, path: str, spec: PipelineSpec) -> None:
        title = spec.display_name or spec.name or path
        counts = f"{_count(len(spec.jobs), 'step')}, {_count(len(spec.edges), 'edge')}"
        self.stdout.write(self.style.SUCCESS(f"{path}: {title}: {counts}"))
        for name, value in spec.inputs.items():
            self.stdout.write(f"  input  {name} ({value.type}) = {value.default!r}")
        self.stdout.write("steps:")
        for name in spec.topological_order():
            step = spec.jobs[name]
            component = os.path.relpath(step.component) if step.component else "inline"
            self.stdout.write(f"  {name}  [{component}]")
            self.stdout.write(f"      {' '.join(step.command.split())}")
            if environment := EnvironmentSpec.from_dict(step.environment_definition):
                built = "built when the step runs" if environment.builds else "runs on the worker's Python"
                self.stdout.write(f"      environment {environment.describe()}: {environment.kind}, {built}")
        self.stdout.write("edges:")
        for e in spec.edges:
            self.stdout.write(f"  {e.source_step}.{e.source_output} -> {e.target_step}.{e.target_input}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
