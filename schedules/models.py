"""The mirror of the backends' schedules and their fires."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.urls import reverse
from django.utils import timezone

from backends import trigger_words, triggers
from runs.models import Pipeline, PipelineRun, PublishedPipeline


class Schedule(models.Model):
    backend = models.CharField(max_length=64)
    external_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    trigger = models.JSONField(default=dict)
    kind = models.CharField(max_length=16, blank=True)  # cron | recurrence | change
    pipeline = models.ForeignKey(
        Pipeline, null=True, blank=True, on_delete=models.SET_NULL, related_name="schedules"
    )
    published_pipeline = models.ForeignKey(
        PublishedPipeline, null=True, blank=True, on_delete=models.SET_NULL, related_name="schedules"
    )
    target_label = models.CharField(
        max_length=255, blank=True
    )  # the pipeline it runs, as the backend names it
    experiment_name = models.CharField(max_length=255, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    definition = models.TextField(blank=True)
    missing = models.TextField(
        blank=True
    )  # what it runs that its backend no longer has: it cannot be enabled
    created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["backend", "external_id"], name="schedule_backend_external_id")
        ]
        ordering = ["name"]
        permissions = [("enable_schedule", "Can disable and enable schedules")]

    def __str__(self) -> str:
        return self.display_name or self.name

    def get_absolute_url(self) -> str:
        return reverse("schedules:detail", args=[self.pk])

    @property
    def status(self) -> str:
        return "Enabled" if self.enabled else "Disabled"

    @property
    def description_in_words(self) -> str:
        try:
            return trigger_words.describe(self.trigger)
        except (KeyError, ValueError):
            return "an unreadable trigger"

    def next_fire_times(self, count: int = 10, now: datetime | None = None) -> list[datetime]:
        if not self.enabled:
            return []
        try:
            return triggers.next_fire_times(self.trigger, now or timezone.now(), count)
        except (KeyError, ValueError):
            return []


class ScheduleFire(models.Model):
    FIRED, SKIPPED, FAILED = "Fired", "Skipped", "Failed"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="fires")
    fire_time = models.DateTimeField()
    trigger_path = models.CharField(max_length=1024, blank=True, default="")
    status = models.CharField(max_length=16)
    run = models.ForeignKey(
        PipelineRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="fires"
    )
    run_external_id = models.CharField(max_length=255, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "fire_time", "trigger_path"], name="schedule_fire_once"
            )
        ]
        indexes = [
            models.Index(fields=["schedule", "-fire_time"], name="fire_schedule_time"),
            # The overview: fires that failed or were skipped lately, of every schedule.
            models.Index(fields=["status", "-fire_time"], name="fire_status_time"),
        ]
        ordering = ["-fire_time"]

    def __str__(self) -> str:
        return f"{self.schedule} @ {self.fire_time:%Y-%m-%d %H:%M}"

    @property
    def outcome(self) -> str:
        """What a manager wants to know of this slot: the run's status, or why there was none."""
        if self.status != self.FIRED:
            return self.status
        return self.run.status if self.run else "Submitted"
