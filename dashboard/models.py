"""Cross-app records: backend health and the Action audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class BackendState(models.Model):
    """One row per configured backend: where its sync got to and whether it answers."""

    name = models.CharField(max_length=64, unique=True)
    watermark = models.DateTimeField(null=True, blank=True)
    healthy = models.BooleanField(default=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    catalog_synced_at = models.DateTimeField(null=True, blank=True)  # pipelines, published, schedules
    # What /metrics reports of the sync passes: kept here, since they run in worker processes.
    sync_passes = models.PositiveBigIntegerField(default=0)  # passes that ran, failed ones included
    sync_failures = models.PositiveBigIntegerField(default=0)
    sync_seconds_total = models.FloatField(default=0.0)
    last_sync_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        permissions = [("check_backendstate", "Can ask a backend to be checked and synced now")]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def failing(cls) -> frozenset[str]:
        """Backends whose last sync failed: what the mirror shows of them may be out of date."""
        return frozenset(cls.objects.filter(healthy=False).values_list("name", flat=True))


NOT_SENT_PREFIX = "Queued: the task queue"  # the note dashboard.actions leaves on an action not sent
UNDER_WAY = {
    "cancel_run": "Cancelling…",
    "resubmit_run": "Resubmitting…",
    "publish_pipeline": "Publishing…",
    "submit_published": "Submitting…",
    "submit_pipeline": "Submitting…",
    "disable_published": "Disabling…",
    "enable_published": "Enabling…",
    "disable_schedule": "Disabling…",
    "enable_schedule": "Enabling…",
    "check_backend": "Checking…",
    "remove_environment": "Removing…",
}


class Action(models.Model):
    """A change someone asked a backend to make. The audit trail, and the source of truth for its task."""

    class Kind(models.TextChoices):
        CANCEL_RUN = "cancel_run", "Cancel run"
        RESUBMIT_RUN = "resubmit_run", "Resubmit run"
        PUBLISH_PIPELINE = "publish_pipeline", "Publish pipeline"
        SUBMIT_PUBLISHED = "submit_published", "Submit published pipeline"
        SUBMIT_PIPELINE = "submit_pipeline", "Submit pipeline"
        DISABLE_PUBLISHED = "disable_published", "Disable published pipeline"
        ENABLE_PUBLISHED = "enable_published", "Enable published pipeline"
        DISABLE_SCHEDULE = "disable_schedule", "Disable schedule"
        ENABLE_SCHEDULE = "enable_schedule", "Enable schedule"
        CHECK_BACKEND = "check_backend", "Check backend now"
        REMOVE_ENVIRONMENT = "remove_environment", "Remove environment"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    FINISHED = {Status.SUCCEEDED, Status.FAILED}

    kind = models.CharField(max_length=32, choices=Kind.choices)
    backend = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=255)  # the target's external id on its backend
    target_label = models.CharField(max_length=255, blank=True)
    params = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="actions"
    )
    reason = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    result = models.TextField(blank=True)
    outcome = models.JSONField(default=dict, blank=True)  # what the action made, e.g. {"run": mirror pk}
    requested_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # set while a retry waits
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["status", "requested_at"], name="action_status_requested"),
            models.Index(fields=["target_type", "backend", "target_id"], name="action_target"),
            # The newest actions first: the overview's and the audit list's order.
            models.Index(fields=["-requested_at", "-id"], name="action_requested"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.target_label or self.target_id}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def under_way(self) -> str:
        """What a page shows of its target while it is under way: "Disabling…", "Cancelling…"; "(queued)" while
        the task queue has not taken it yet (Redis did not answer)."""
        label = UNDER_WAY.get(self.kind, f"{self.get_kind_display()}…")
        return f"{label} (queued)" if self.waits_for_queue else label

    @property
    def waits_for_queue(self) -> bool:
        return self.status == self.Status.PENDING and self.error.startswith(NOT_SENT_PREFIX)
