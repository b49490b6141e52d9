"""python manage.py schedule create FILE.yml | list | disable NAME | enable NAME"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from backends import trigger_words, triggers
from backends.base import BackendErrorBase
from backends.local.models import LocalSchedule
from backends.local.scheduler import register_schedule_file
from backends.local.spec import SpecError
from backends.registry import get_backend
from dashboard.actions import action_perform_now, action_record
from dashboard.models import Action
from schedules.sync import mirror_schedule


class Command(BaseCommand):
    help = "Create, list, disable and enable the local engine's schedules."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("create", help="create or update a schedule from its YAML").add_argument("file")
        sub.add_parser("list", help="every schedule, its trigger in words and its next fire")
        for verb in ("disable", "enable"):
            p = sub.add_parser(verb, help=f"{verb} a schedule (recorded in the audit trail)")
            p.add_argument("name")
            p.add_argument("--reason", default="")

    def handle(self, *args, verb, **options):
        getattr(self, f"do_{verb}")(**options)

    def do_create(self, file, **options):
        try:
            schedule = register_schedule_file(file)
        except SpecError as exc:
            raise CommandError(str(exc)) from None
        engine = get_backend("local")
        mirror_schedule(engine, engine._schedule_info(schedule))
        state = "enabled" if schedule.enabled else "disabled"
        self.stdout.write(f"schedule {schedule.pk} ({state}): {trigger_words.describe(schedule.trigger)}")

    def do_list(self, **options):
        now = timezone.now()
        for s in LocalSchedule.objects.order_by("pk"):
            upcoming = triggers.next_fire_times(s.trigger, now, 1) if s.enabled else []
            nxt = upcoming[0].strftime("%Y-%m-%d %H:%M UTC") if upcoming else "—"
            state = "enabled " if s.enabled else "disabled"
            self.stdout.write(f"{s.pk:<28} {state} next {nxt:<22} {trigger_words.describe(s.trigger)}")

    def do_disable(self, name, reason, **options):
        self._switch(name, False, reason)

    def do_enable(self, name, reason, **options):
        self._switch(name, True, reason)

    def _switch(self, name: str, enabled: bool, reason: str) -> None:
        if not LocalSchedule.objects.filter(pk=name).exists():
            raise CommandError(f"no schedule named {name!r} (see: manage.py schedule list)")
        action = action_record(
            kind=Action.Kind.ENABLE_SCHEDULE if enabled else Action.Kind.DISABLE_SCHEDULE,
            backend="local",
            target_type="schedule",
            target_id=name,
            target_label=name,
            user=None,
            reason=reason or "from the command line",
            params={"enabled": enabled},
        )
        try:
            action = action_perform_now(action)
        except BackendErrorBase as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(action.result)
