"""`manage.py bootstrap`: what a fresh install needs after migrate. Safe to run on every start."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

ADMIN_USERNAME = "admin"


def admin_password_file() -> Path:
    """Where a generated admin password waits for `manage.py serve` to print it once (and delete it)."""
    return settings.VAR_DIR / "admin-password.once"


class Command(BaseCommand):
    help = "Create the admin account once and register the example pipelines with the local engine."

    def handle(self, *args: Any, **options: Any) -> None:
        self.create_admin()
        self.register_examples()

    def create_admin(self) -> None:
        users = get_user_model()._default_manager
        if users.filter(username=ADMIN_USERNAME).exists():
            self.stdout.write("admin exists")
            return
        password = os.environ.get("RUNBOARD_ADMIN_PASSWORD", "")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
            # Written before the account exists, so a failure here leaves no account with an unknown password.
            path = admin_password_file()
            path.unlink(missing_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(password + "\n")
        users.create_superuser(username=ADMIN_USERNAME, email="", password=password)
        self.stdout.write("created admin")
        if generated:
            self.stdout.write(
                f"  its password is in {admin_password_file()}; `manage.py serve` prints it once"
            )
        else:
            self.stdout.write("  its password is RUNBOARD_ADMIN_PASSWORD")

    def register_examples(self) -> None:
        from backends.local.engine import register_pipeline_file
        from backends.local.models import LocalSchedule
        from backends.local.scheduler import register_schedule_file
        from backends.local.spec import SpecError

        examples = Path(settings.EXAMPLES_DIR)
        for path in sorted([*examples.glob("*/pipeline.yml"), *examples.glob("*/job.yml")]):
            try:
                pipeline = register_pipeline_file(path)
            except SpecError as exc:
                self.stderr.write(str(exc))
                continue
            self.stdout.write(f"registered pipeline {pipeline.pk} from {self._shown(path)}")
        for path in sorted(examples.glob("schedules/*.yml")):
            try:
                # Only once: a schedule a manager switched off stays off at the next start.
                from django.utils import timezone

                from backends.local.schedule_spec import load_schedule

                name = load_schedule(path, timezone.now()).name
                if LocalSchedule.objects.filter(pk=name).exists():
                    continue
                schedule = register_schedule_file(path)
            except SpecError as exc:
                self.stderr.write(str(exc))
                continue
            state = "enabled" if schedule.enabled else "disabled"
            self.stdout.write(f"registered schedule {schedule.pk} ({state}) from {self._shown(path)}")

    def _shown(self, path: Path) -> Path:
        return path.relative_to(settings.BASE_DIR) if path.is_relative_to(settings.BASE_DIR) else path
