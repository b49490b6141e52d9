"""python manage.py backends [list | check [NAME]]: the configured backends, and whether each can be reached."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from backends import registry
from backends.base import BackendErrorBase


class Command(BaseCommand):
    help = "List the configured backends, or connect to each (or one) and print what it can see."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb")
        sub.add_parser("list", help="the backends RUNBOARD_BACKENDS configures")
        check = sub.add_parser("check", help="connect and print what can be seen, or what failed")
        check.add_argument("name", nargs="?", help="only this backend")

    def handle(self, *args, verb: str | None = None, name: str | None = None, **options):
        names = registry.names()
        if verb != "check":
            for each in names:
                backend = registry.get_backend(each)
                described = ", ".join(f"{k} {v}" for k, v in backend.describe())
                self.stdout.write(f"{each}: {backend.engine}" + (f" ({described})" if described else ""))
            return
        if name and name not in names:
            raise CommandError(f"no backend named {name!r}; configured: {', '.join(names)}")
        failed = [each for each in ([name] if name else names) if not self.check_one(each)]
        if failed:
            raise CommandError(f"{len(failed)} of the backends checked failed: {', '.join(failed)}")

    def check_one(self, name: str) -> bool:
        backend = registry.get_backend(name)
        try:
            result = backend.check()
        except BackendErrorBase as exc:
            self.stderr.write(f"{name}: FAILED: {exc}")
            return False
        self.stdout.write(f"{name}: {'ok' if result.ok else 'FAILED'} ({backend.engine})")
        for key, value in result.facts:
            self.stdout.write(f"  {key}: {value}")
        if not result.ok:
            self.stderr.write(f"  problem: {result.problem}")
            if result.advice:
                self.stderr.write(f"  what to do: {result.advice}")
        return result.ok
