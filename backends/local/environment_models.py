"""The local engine's built environments (backends/local/environments.py) and the steps that used them."""

from __future__ import annotations

import os

from django.db import models
from django.utils import timezone


class LocalEnvironment(models.Model):
    """One environment in the engine folder's cache, keyed by what it installs on which Python.

    The row is also the build's lock: a step claims the build with a conditional update of ``attempt``, so two
    workers (on one host or several sharing the engine folder) never build the same environment at once.
    """

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        REMOVING = "removing", "Removing"

    key = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=512, blank=True)  # as the job named it: registered name, env name...
    kind = models.CharField(max_length=16)  # conda | pip
    source = models.CharField(max_length=1024, blank=True)  # the file the definition was read from
    definition = models.TextField(blank=True)  # as written
    requirements = models.TextField(blank=True)  # what pip installs, one a line
    python = models.CharField(max_length=32, blank=True)
    interpreter = models.CharField(max_length=1024, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING)
    attempt = models.PositiveIntegerField(default=1)  # every claim of the build adds one
    error = models.TextField(blank=True)
    builder = models.CharField(max_length=255, blank=True)  # host and process of the last build
    heartbeat_at = models.DateTimeField(null=True)  # while building: a stale one may be taken over
    started_at = models.DateTimeField(null=True)
    built_at = models.DateTimeField(null=True)
    build_seconds = models.FloatField(null=True)
    size_bytes = models.BigIntegerField(null=True)
    last_used_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "local_engine_environment"

    def __str__(self) -> str:
        return f"{self.label} ({self.key})"

    @property
    def label(self) -> str:
        """Its name, else the name of the file that defines it."""
        return self.name or os.path.basename(self.source) or self.kind

    @property
    def requirement_lines(self) -> list[str]:
        return self.requirements.splitlines()


class LocalEnvironmentUse(models.Model):
    """A step that ran in an environment: the environments page lists each one's latest."""

    environment = models.ForeignKey(LocalEnvironment, on_delete=models.CASCADE, related_name="uses")
    step = models.ForeignKey(
        "local_engine.LocalStep", on_delete=models.CASCADE, related_name="environment_uses"
    )
    used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "local_engine_environment_use"
        indexes = [models.Index(fields=["environment", "-used_at"], name="local_env_use_latest")]

    def __str__(self) -> str:
        return f"{self.environment_id} by {self.step_id}"
