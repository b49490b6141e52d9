"""python manage.py sync [--backend NAME]: one sync pass in the foreground, saying what it added and changed."""

from __future__ import annotations

import redis
from django.core.management.base import BaseCommand, CommandError

from backends import registry
from runs.sync import SyncResult, sync_backend


class Command(BaseCommand):
    help = "Run one sync pass of every backend (or one) now and print the runs it added and changed."

    def add_arguments(self, parser):
        parser.add_argument("--backend", help="only this backend (a name from RUNBOARD_BACKENDS)")

    def handle(self, *args, backend: str | None, **options):
        names = registry.names()
        if backend and backend not in names:
            raise CommandError(f"no backend named {backend!r}; configured: {', '.join(names)}")
        failed = []
        for name in [backend] if backend else names:
            try:
                result = sync_backend(name, now=True)
            except redis.exceptions.ConnectionError as exc:
                raise CommandError(
                    f"Redis does not answer ({exc}); start Runboard (make run) or set REDIS_URL"
                ) from None
            self.report(result)
            if result.error:
                failed.append(name)
        if failed:
            raise CommandError(f"sync failed for {', '.join(failed)}")

    def report(self, result: SyncResult) -> None:
        if not result.ran:
            self.stdout.write(f"{result.backend}: another sync of it is running; try again in a moment")
            return
        if result.error:
            self.stderr.write(f"{result.backend}: {result.error}")
            return
        self.stdout.write(
            f"{result.backend}: read {result.runs} runs: {len(result.added)} added, {len(result.changed)} changed"
        )
        for run_id in result.added:
            self.stdout.write(f"  + {run_id}")
        for change in result.changed:
            self.stdout.write(f"  ~ {change}")
