"""The mirror of what the backends hold. Pages read only these tables; sync writes them."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from backends.base import RunStatus

STATUS_CHOICES = [(s, s) for s in RunStatus.ALL]


class Pipeline(models.Model):
    backend = models.CharField(max_length=64)
    external_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    experiment_name = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=1024, blank=True)
    definition = models.TextField(blank=True)
    # The backend's PipelineInput of each input, as dicts, in the definition's order (a list: jsonb keeps no
    # key order).
    inputs = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["backend", "external_id"], name="pipeline_backend_external_id")
        ]
        ordering = ["name"]
        permissions = [("submit_pipeline", "Can start runs of pipelines")]

    def __str__(self) -> str:
        return self.display_name or self.name

    def get_absolute_url(self) -> str:
        return reverse("runs:pipeline_detail", args=[self.pk])


class Timed(models.Model):
    """A status in Azure ML's vocabulary and the times it went through."""

    status = models.CharField(max_length=32, choices=STATUS_CHOICES, default=RunStatus.NOT_STARTED)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_terminal(self) -> bool:
        return RunStatus.is_terminal(self.status)

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class PublishedPipeline(models.Model):
    """A pipeline frozen from a run, submitted by other systems through its REST endpoint."""

    ACTIVE, DISABLED = "Active", "Disabled"

    backend = models.CharField(max_length=64)
    external_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    version = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, default=ACTIVE)
    pipeline = models.ForeignKey(Pipeline, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source_run = models.ForeignKey(
        "PipelineRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="published_as"
    )
    source_run_external_id = models.CharField(max_length=255, blank=True)
    endpoint = models.CharField(max_length=1024, blank=True)  # the backend's own, when it has one
    continue_on_step_failure = models.BooleanField(default=False)
    parameters = models.JSONField(default=dict, blank=True)
    published_by = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["backend", "external_id"], name="published_backend_external_id")
        ]
        ordering = ["name", "-created_at"]
        permissions = [
            ("submit_publishedpipeline", "Can submit runs of published pipelines and manage their tokens"),
            ("enable_publishedpipeline", "Can disable and enable published pipelines"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()

    def get_absolute_url(self) -> str:
        return reverse("runs:published_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status == self.ACTIVE


class ApiToken(models.Model):
    """A bearer token for one published pipeline's endpoint. Only its SHA-256 digest is kept."""

    published_pipeline = models.ForeignKey(PublishedPipeline, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)  # shown in lists, so a token can be recognised
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="api_tokens"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        # Without it a user sees and revokes only the tokens they made (dashboard/roles.py: MANAGE_TOKENS).
        permissions = [("manage_apitoken", "Can see and revoke every user's tokens of published pipelines")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class PipelineRunQuerySet(models.QuerySet):
    def active(self) -> PipelineRunQuerySet:
        return self.exclude(status__in=RunStatus.TERMINAL)

    def newest_first(self) -> PipelineRunQuerySet:
        return self.order_by("-created_at", "-id")


class PipelineRun(Timed):
    backend = models.CharField(max_length=64)
    external_id = models.CharField(max_length=255)
    pipeline = models.ForeignKey(
        Pipeline, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    pipeline_name = models.CharField(max_length=255, blank=True)
    published_pipeline = models.ForeignKey(
        PublishedPipeline, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    display_name = models.CharField(max_length=255, blank=True)
    experiment_name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    submitted_by = models.CharField(max_length=255, blank=True)
    compute = models.CharField(max_length=255, blank=True)
    continue_on_step_failure = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    # Kept, not derived, so the list can sort and page by it with an index.
    duration_seconds = models.FloatField(null=True, blank=True)
    backend_updated_at = models.DateTimeField(null=True, blank=True)
    external_url = models.URLField(max_length=2048, blank=True)  # its page in the backend's own interface
    synced_at = models.DateTimeField(auto_now=True, db_index=True)
    # The step graph's layout, computed once: statuses change, the structure does not.
    graph_layout = models.JSONField(null=True, blank=True)

    objects = PipelineRunQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["backend", "external_id"], name="run_backend_external_id")
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="run_created"),
            models.Index(fields=["status", "-created_at", "-id"], name="run_status_created"),
            models.Index(fields=["pipeline", "-created_at", "-id"], name="run_pipeline_created"),
            models.Index(fields=["experiment_name", "-created_at", "-id"], name="run_experiment_created"),
            models.Index(fields=["backend", "-created_at", "-id"], name="run_backend_created"),
            models.Index(fields=["submitted_by", "-created_at", "-id"], name="run_submitter_created"),
            models.Index(fields=["-duration_seconds", "-id"], name="run_duration"),
            # /metrics counts runs by status and backend from this index alone (dashboard/metrics.py).
            models.Index(fields=["status", "backend"], name="run_status_backend"),
            # The overview: active runs counted by backend and status, and per pipeline submitted before a
            # moment, read from this index alone.
            models.Index(fields=["status", "pipeline", "created_at", "backend"], name="run_status_pipeline"),
        ]
        permissions = [
            ("cancel_pipelinerun", "Can cancel pipeline runs"),
            ("resubmit_pipelinerun", "Can resubmit pipeline runs"),
            ("publish_pipelinerun", "Can publish a run's pipeline"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.external_id

    def get_absolute_url(self) -> str:
        return reverse("runs:detail", args=[self.pk])

    # --- what may be done with it: the views, the bulk views and the templates all ask here -------------------

    @property
    def is_being_cancelled(self) -> bool:
        """Its backend was asked to cancel it, or a cancel action for it is under way (``pending_action``)."""
        pending = getattr(self, "pending_action", None)
        return self.status == RunStatus.CANCEL_REQUESTED or (
            pending is not None and pending.kind == "cancel_run" and not self.is_terminal
        )

    @property
    def can_be_cancelled(self) -> bool:
        return not self.is_terminal and not self.is_being_cancelled

    @property
    def can_be_resubmitted(self) -> bool:
        return self.is_terminal

    @property
    def can_rerun_from_failure(self) -> bool:
        """A failed or canceled run reruns what did not complete; its completed steps are reused."""
        return self.status in (RunStatus.FAILED, RunStatus.CANCELED)

    @property
    def shown_status(self) -> str:
        """The status a page shows: the one a change under way is bringing, from the moment it is asked for."""
        return RunStatus.CANCEL_REQUESTED if self.is_being_cancelled else self.status


class RunTag(models.Model):
    """One tag of a run, as a row: a tag filter is an index range, on SQLite and PostgreSQL alike."""

    run = models.ForeignKey(PipelineRun, on_delete=models.CASCADE, related_name="tag_rows")
    key = models.CharField(max_length=255)
    value = models.CharField(max_length=1024, blank=True)
    created_at = models.DateTimeField(null=True)  # the run's, copied so the index can order by it

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="run_tag_key")]
        indexes = [
            models.Index(fields=["key", "value", "-created_at", "-run"], name="run_tag_value_created"),
            models.Index(fields=["key", "-created_at", "-run"], name="run_tag_key_created"),
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class StepRun(Timed):
    run = models.ForeignKey(PipelineRun, on_delete=models.CASCADE, related_name="steps")
    external_id = models.CharField(max_length=255)
    node_id = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    job_type = models.CharField(max_length=32, default="command")
    command = models.TextField(blank=True)
    environment = models.CharField(max_length=512, blank=True)
    compute = models.CharField(max_length=255, blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    is_reused = models.BooleanField(default=False)
    reused_run_id = models.CharField(max_length=255, blank=True)
    reused_step_id = models.CharField(max_length=255, blank=True)
    log_names = models.JSONField(default=list, blank=True)
    snapshot = models.CharField(max_length=64, blank=True, default="")  # sha256 of its code snapshot, if any
    position = models.PositiveIntegerField(default=0)  # the step's place in the pipeline's topological order
    queued_at = models.DateTimeField(null=True, blank=True)
    external_url = models.URLField(max_length=2048, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "node_id"], name="step_run_node")]
        # /metrics counts the steps under way from this index alone (dashboard/metrics.py).
        indexes = [models.Index(fields=["status"], name="step_status")]
        ordering = ["run", "position", "node_id"]

    def __str__(self) -> str:
        return self.display_name or self.node_id

    def get_absolute_url(self) -> str:
        return reverse("runs:step_log", args=[self.run_id, self.node_id, self.default_log])

    @property
    def default_log(self) -> str:
        return self.log_names[0] if self.log_names else "stdout"


# What a step run mirrors from its backend: every field but the keys.
STEP_RUN_FIELDS = tuple(f.name for f in StepRun._meta.concrete_fields if f.name not in ("id", "run"))


class StepEdge(models.Model):
    run = models.ForeignKey(PipelineRun, on_delete=models.CASCADE, related_name="edges")
    source_node = models.CharField(max_length=255)
    source_output = models.CharField(max_length=255)
    target_node = models.CharField(max_length=255)
    target_input = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "source_node", "source_output", "target_node", "target_input"],
                name="step_edge_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_node}.{self.source_output} → {self.target_node}.{self.target_input}"
