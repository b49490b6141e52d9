"""The local engine's own state. Private to backends/local: the mirror reads it only through the contract."""

from __future__ import annotations

from django.db import models

from backends.base import RunStatus

# The environments' models are in a module of their own: importing them here registers them with the app.
from backends.local.environment_models import LocalEnvironment, LocalEnvironmentUse  # noqa: F401

STATUS_CHOICES = [(s, s) for s in RunStatus.ALL]


class LocalPipeline(models.Model):
    id = models.CharField(primary_key=True, max_length=255)  # the pipeline's name
    display_name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    experiment_name = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=dict)
    source = models.CharField(max_length=1024)  # the YAML file it was registered from
    definition = models.TextField()
    spec = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "local_engine_pipeline"

    def __str__(self) -> str:
        return self.pk


class LocalPublishedPipeline(models.Model):
    """A run's definition frozen under a name and version (PipelineRun.publish_pipeline)."""

    id = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    version = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, default="Active")  # Active | Disabled
    pipeline = models.ForeignKey(LocalPipeline, null=True, on_delete=models.SET_NULL, related_name="+")
    source_run = models.ForeignKey("LocalRun", null=True, on_delete=models.SET_NULL, related_name="+")
    continue_on_step_failure = models.BooleanField(default=False)
    spec = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "local_engine_published_pipeline"

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()


class LocalRun(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    pipeline = models.ForeignKey(LocalPipeline, null=True, on_delete=models.SET_NULL, related_name="runs")
    published = models.ForeignKey(
        LocalPublishedPipeline, null=True, on_delete=models.SET_NULL, related_name="runs"
    )
    display_name = models.CharField(max_length=255, blank=True)
    experiment_name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict)
    parameters = models.JSONField(default=dict)
    spec = models.JSONField()  # the resolved definition the run was submitted with: its snapshot
    status = models.CharField(max_length=32, choices=STATUS_CHOICES, default=RunStatus.NOT_STARTED)
    submitted_by = models.CharField(max_length=255, blank=True)
    continue_on_step_failure = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        db_table = "local_engine_run"
        indexes = [models.Index(fields=["status"], name="local_run_status")]

    def __str__(self) -> str:
        return self.pk


class LocalStep(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    run = models.ForeignKey(LocalRun, on_delete=models.CASCADE, related_name="steps")
    node_id = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=32, choices=STATUS_CHOICES, default=RunStatus.NOT_STARTED)
    command = models.TextField(blank=True)  # as run, bindings resolved
    environment = models.CharField(max_length=512, blank=True)
    compute = models.CharField(max_length=255, blank=True)
    inputs = models.JSONField(default=dict)
    outputs = models.JSONField(default=dict)
    fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    exit_code = models.IntegerField(null=True)
    error = models.TextField(blank=True)
    reused_step = models.ForeignKey("self", null=True, on_delete=models.SET_NULL, related_name="+")
    snapshot = models.CharField(max_length=64, blank=True)  # the sha256 of its code snapshot, if it has code
    processes = models.PositiveSmallIntegerField(default=1)  # a distributed job's: one log pair each
    # backends.local.hosts: hostname/boot id/PID namespace, the only place pid and task_pid mean something.
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True)  # the step's process group
    task_pid = models.IntegerField(null=True)  # the process of the task that runs it
    heartbeat_at = models.DateTimeField(null=True)
    queued_at = models.DateTimeField(null=True)
    # False while its task could not be sent (Redis did not answer): the heartbeat check sends it again.
    sent = models.BooleanField(default=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "local_engine_step"
        constraints = [models.UniqueConstraint(fields=["run", "node_id"], name="local_step_run_node")]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="local_step_heartbeat")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.node_id}"


class LocalSchedule(models.Model):
    """A schedule: when (a trigger) and what (a pipeline, or a published pipeline for the v1 form)."""

    id = models.CharField(primary_key=True, max_length=255)  # the schedule's name
    display_name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict)
    trigger = models.JSONField()
    enabled = models.BooleanField(default=True)
    spec = models.JSONField()  # the loaded schedule file (backends.local.schedule_spec.ScheduleSpec)
    pipeline = models.ForeignKey(LocalPipeline, null=True, on_delete=models.SET_NULL, related_name="+")
    published_ref = models.CharField(max_length=255, blank=True)  # v1: the published pipeline's name or id
    source = models.CharField(max_length=1024)
    definition = models.TextField()
    # Time-based: every slot up to here has been fired or skipped. Change-based: files as last seen.
    last_slot = models.DateTimeField()
    watch_state = models.JSONField(default=dict)
    next_poll_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "local_engine_schedule"

    def __str__(self) -> str:
        return self.pk


class LocalScheduleFire(models.Model):
    """One slot of a schedule. Unique, so two beat processes racing for a slot cannot both start a run."""

    schedule = models.ForeignKey(LocalSchedule, on_delete=models.CASCADE, related_name="fires")
    fire_time = models.DateTimeField()
    trigger_path = models.CharField(max_length=1024, blank=True, default="")
    status = models.CharField(max_length=16)
    run = models.ForeignKey(LocalRun, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        db_table = "local_engine_schedule_fire"
        constraints = [
            models.UniqueConstraint(fields=["schedule", "fire_time", "trigger_path"], name="local_fire_once")
        ]

    def __str__(self) -> str:
        return f"{self.schedule_id} @ {self.fire_time:%Y-%m-%d %H:%M}"
