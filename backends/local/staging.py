"""A step's remote inputs, fetched while it is Preparing: each http(s) value of a uri_file or uri_folder input
becomes a local path in the engine's download cache (backends/local/datacache.py), with the download's progress
in the step's system log. A uri_file is the cached file; a uri_folder is the cache folder holding it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from django.utils import timezone

from backends.base import RunStatus
from backends.local import config as local_config
from backends.local import executor, hosts
from backends.local.datacache import DataCache, DownloadError
from backends.local.datarefs import URL_TYPES, is_url, shown
from backends.local.models import LocalRun, LocalStep
from backends.local.spec import StepSpec

S = RunStatus
BEAT_SECONDS = 1.0  # a download beats more often than a running step: a cancel should stop it at once


class RemoteInputError(Exception):
    """A remote input the step cannot have: the step fails in Preparing with this message."""


class Canceled(RemoteInputError):
    """The step was canceled while it waited for its data; it is Canceled already."""


def cache_dir() -> Path:
    return executor.engine_dir() / "cache"


def fetch_remote_inputs(
    step: LocalStep, job: StepSpec, inputs: dict[str, Any], config: local_config.EngineConfig | None = None
) -> dict[str, Any]:
    """``inputs`` with every remote one replaced by its local copy; RemoteInputError names the input and why."""
    remote = {
        name: value
        for name, value in inputs.items()
        if name in job.inputs and job.inputs[name].type in URL_TYPES and is_url(value)
    }
    if not remote:
        check_local_inputs(job, inputs)
        return inputs
    config = config or local_config.current()
    cache = DataCache(cache_dir(), limit=config.download_limit, max_age=config.download_max_age)
    # The run page follows the run's updated_at: moving it shows the step Preparing, and its log, at once.
    LocalRun.objects.filter(pk=step.run_id).update(updated_at=timezone.now())
    beat = _Heartbeat(step)
    local = dict(inputs)
    for name, url in remote.items():
        executor.syslog(step, f"Input '{name}' is {shown(url)}")
        try:
            cached = cache.fetch(url, say=lambda line: executor.syslog(step, line), tick=beat)
        except DownloadError as error:
            raise RemoteInputError(f"input '{name}': {error}") from None
        local[name] = str(cached.path.parent if job.inputs[name].type == "uri_folder" else cached.path)
    check_local_inputs(job, local)
    return local


def check_local_inputs(job: StepSpec, inputs: dict[str, Any]) -> None:
    """A local input is read in place, where the step runs: one this host does not see fails the step, saying
    so, rather than the command failing on a missing file (it may be on the submitting host only)."""
    for name, value in inputs.items():
        if name not in job.inputs or job.inputs[name].type not in URL_TYPES or not value or is_url(value):
            continue
        if not os.path.exists(value):
            host = hosts.hostname_of(executor.HOST)
            raise RemoteInputError(
                f"input '{name}': {value} is not on this host ({host}). A local input is read where the step "
                "runs: put it on storage every steps host mounts at the same path, or give an https, datastore "
                "or data asset path"
            )


class _Heartbeat:
    """Called while a download runs: keeps the step's heartbeat fresh and stops the download on a cancel."""

    def __init__(self, step: LocalStep) -> None:
        self.step = step
        self.next = 0.0

    def __call__(self) -> None:
        if time.monotonic() < self.next:
            return
        self.next = time.monotonic() + BEAT_SECONDS
        steps = LocalStep.objects.filter(pk=self.step.pk)
        status = steps.values_list("status", flat=True).first()
        now = timezone.now()
        if status in (S.CANCEL_REQUESTED, S.CANCELED):
            if steps.filter(status=S.CANCEL_REQUESTED).update(
                status=S.CANCELED, error="Canceled.", finished_at=now, heartbeat_at=now, updated_at=now
            ):
                executor.syslog(self.step, "Canceled while its inputs were downloading.")
            raise Canceled("canceled while its inputs were downloading")
        steps.update(heartbeat_at=now)
        if steps.filter(status=S.NOT_RESPONDING).update(status=S.PREPARING, updated_at=now):
            executor.refresh_run_status(self.step.run_id)  # it was only slow: it is plainly alive
