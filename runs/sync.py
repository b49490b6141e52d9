"""Fill the mirror from a backend: only what changed since the watermark, plus every non-terminal run."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backends.base import (
    Backend,
    BackendErrorBase,
    BackendUnavailable,
    FireStatus,
    PublishedPipelineInfo,
    RunInfo,
    RunStatus,
    Unsupported,
)
from backends.registry import get_backend
from dashboard.models import BackendState
from dashboard.public import public_message
from runs.freshness import holds_newer
from runs.models import STEP_RUN_FIELDS, Pipeline, PipelineRun, PublishedPipeline, RunTag, StepEdge, StepRun
from schedules.models import Schedule, ScheduleFire
from schedules.sync import sync_fires, sync_schedules

log = logging.getLogger(__name__)

# Commits land out of order around a read; looking back a little costs a few idempotent upserts.
WATERMARK_OVERLAP = timedelta(seconds=5)
LOCK_SECONDS = 120
MAX_BACKOFF = timedelta(minutes=5)

STEP_FIELDS = [f for f in STEP_RUN_FIELDS if f != "node_id"]


@dataclass
class SyncResult:
    backend: str
    ran: bool  # False when another sync of this backend held the lock, or it waits out a backoff
    runs: int = 0  # runs read from the backend
    added: list[str] = field(default_factory=list)  # external ids of runs new to the mirror
    changed: list[str] = field(default_factory=list)  # "id: Old → New" for runs whose status moved
    catalog: bool = False  # whether pipelines, published pipelines and schedules were read too
    error: str = ""


def redis_client() -> redis.Redis:
    timeout = settings.QUEUE_TIMEOUT_SECONDS
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout)


@contextmanager
def backend_lock(name: str):
    """One sync per backend at a time, across every worker: a Redis lock that expires if its holder dies."""
    lock = redis_client().lock(f"runboard:sync:{name}", timeout=LOCK_SECONDS, blocking=False)
    acquired = lock.acquire()
    try:
        yield acquired
    finally:
        if acquired:
            try:
                lock.release()
            except redis.exceptions.LockError:
                pass  # expired meanwhile; the next holder owns it now


def sync_backend(name: str, *, now: bool = False) -> SyncResult:
    """One sync pass of a backend. ``now``: also when it waits out a backoff, and read its catalog too."""
    with backend_lock(name) as acquired:
        if not acquired:
            return SyncResult(name, ran=False)
        return _sync_locked(name, now=now)


def _sync_locked(name: str, *, now: bool) -> SyncResult:
    state, _ = BackendState.objects.get_or_create(name=name)
    started = timezone.now()
    if not now and state.next_attempt_at and state.next_attempt_at > started:
        return SyncResult(name, ran=False, error=state.last_error)
    result = SyncResult(name, ran=True)
    timer = time.perf_counter()
    try:
        backend = get_backend(name)
        result.catalog = now or _catalog_due(backend, state, started)
        if result.catalog:  # before the runs, which name their pipelines and schedules
            sync_pipelines(backend)
            sync_published(backend)
            sync_schedules(backend)
        since = state.watermark - WATERMARK_OVERLAP if state.watermark else None
        mirrored = PipelineRun.objects.filter(backend=name)
        active = frozenset(mirrored.active().values_list("external_id", flat=True))
        runs = backend.list_runs(changed_since=since, active_ids=active)
        before = dict(
            mirrored.filter(external_id__in=[r.id for r in runs]).values_list("external_id", "status")
        )
        for info in runs:
            run = mirror_run(backend, info)
            if info.schedule_id:
                mirror_fire_of(backend, info, run)
            if info.id not in before:
                result.added.append(info.id)
            elif before[info.id] != run.status:
                result.changed.append(f"{info.id}: {before[info.id]} → {run.status}")
        sync_fires(backend, since)
    except BackendErrorBase as exc:
        return _record_failure(state, exc, result, time.perf_counter() - timer)
    except Exception as exc:  # a backend bug must show as a failing backend, not stop every sync
        log.exception("sync of backend %s failed", name)
        return _record_failure(state, exc, result, time.perf_counter() - timer)
    watermarks = [r.updated_at for r in runs if r.updated_at]
    if watermarks:
        state.watermark = max([*watermarks, state.watermark] if state.watermark else watermarks)
    state.healthy = True
    state.last_error = ""
    state.consecutive_failures = 0
    state.next_attempt_at = None
    state.last_sync_at = state.last_success_at = timezone.now()
    if result.catalog:
        state.catalog_synced_at = state.last_sync_at
    _count_pass(state, time.perf_counter() - timer)
    state.save()
    result.runs = len(runs)
    return result


def _catalog_due(backend: Backend, state: BackendState, now) -> bool:
    if not backend.catalog_seconds or state.catalog_synced_at is None:
        return True
    return now - state.catalog_synced_at >= timedelta(seconds=backend.catalog_seconds)


def _count_pass(state: BackendState, seconds: float) -> None:
    # Under the backend's lock: no other pass of this backend writes these meanwhile.
    state.sync_passes += 1
    state.sync_seconds_total += seconds
    state.last_sync_seconds = seconds


def _record_failure(state: BackendState, exc: Exception, result: SyncResult, seconds: float) -> SyncResult:
    _count_pass(state, seconds)
    state.sync_failures += 1
    state.healthy = False
    state.consecutive_failures += 1
    kind = "unavailable" if isinstance(exc, BackendUnavailable) else "error"
    state.last_error = public_message(f"{kind}: {exc}")[:2000]
    backoff = min(timedelta(seconds=2 ** min(state.consecutive_failures, 10)), MAX_BACKOFF)
    if isinstance(exc, BackendUnavailable) and exc.retry_after:
        backoff = max(backoff, timedelta(seconds=exc.retry_after))  # the backend said when to come back
    state.last_sync_at = timezone.now()
    state.next_attempt_at = state.last_sync_at + backoff
    state.save()
    result.error = state.last_error
    return result


def sync_pipelines(backend: Backend) -> None:
    try:
        infos = backend.list_pipelines()
    except Unsupported:
        return  # a backend whose pipelines are only known through their runs
    Pipeline.objects.bulk_create(
        [
            Pipeline(
                backend=backend.name,
                external_id=p.id,
                name=p.name,
                display_name=p.display_name,
                description=p.description,
                experiment_name=p.experiment_name,
                tags=p.tags,
                source=p.source,
                definition=p.definition,
                inputs=[asdict(i) for i in p.inputs],
                created_at=p.created_at,
                updated_at=p.updated_at,
            )
            for p in infos
        ],
        update_conflicts=True,
        unique_fields=["backend", "external_id"],
        update_fields=[
            "name",
            "display_name",
            "description",
            "experiment_name",
            "tags",
            "source",
            "definition",
            "inputs",
            "updated_at",
        ],
    )


def sync_published(backend: Backend) -> None:
    try:
        infos = backend.list_published_pipelines()
    except Unsupported:
        return  # a backend without published pipelines
    for info in infos:
        mirror_published(backend, info)


def mirror_published(
    backend: Backend, info: PublishedPipelineInfo, *, published_by: str = ""
) -> PublishedPipeline:
    source_run = None
    if info.source_run_id:
        source_run = PipelineRun.objects.filter(backend=backend.name, external_id=info.source_run_id).first()
    defaults = {
        "name": info.name,
        "description": info.description,
        "version": info.version,
        "status": info.status,
        "pipeline": Pipeline.objects.filter(backend=backend.name, external_id=info.pipeline_id).first(),
        "source_run": source_run,
        "source_run_external_id": info.source_run_id,
        "endpoint": info.endpoint,
        "continue_on_step_failure": info.continue_on_step_failure,
        "parameters": info.parameters,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
    }
    if published_by or info.published_by:
        defaults["published_by"] = published_by or info.published_by
    with transaction.atomic():
        existing = PublishedPipeline.objects.filter(backend=backend.name, external_id=info.id)
        if holds_newer(existing, "updated_at", info.updated_at):
            return existing.get()  # read before a change the mirror already holds
        published, _ = PublishedPipeline.objects.update_or_create(
            backend=backend.name, external_id=info.id, defaults=defaults
        )
    return published


def mirror_fire_of(backend: Backend, info: RunInfo, run: PipelineRun) -> None:
    """A run a schedule started, for a backend that keeps no fires of its own: the schedule's history."""
    schedule = Schedule.objects.filter(backend=backend.name, external_id=info.schedule_id).first()
    if schedule is None or info.created_at is None:
        return
    ScheduleFire.objects.update_or_create(
        schedule=schedule,
        fire_time=info.created_at,
        trigger_path="",
        defaults={"status": FireStatus.FIRED, "run": run, "run_external_id": info.id},
    )


def sync_run(backend_name: str, run_id: str) -> PipelineRun:
    """Mirror one run now (after a submit or an action), without waiting for the next beat."""
    backend = get_backend(backend_name)
    return mirror_run(backend, backend.get_run(run_id))


def mirror_run(backend: Backend, info: RunInfo) -> PipelineRun:
    steps = info.steps if info.steps is not None else backend.get_steps(info.id)
    mirrored = PipelineRun.objects.filter(backend=backend.name, external_id=info.id).exists()
    graph = (
        None if mirrored else (info.graph or backend.get_graph(info.id))
    )  # a run's structure never changes
    pipeline = published = None
    if info.pipeline_id:
        pipeline = Pipeline.objects.filter(backend=backend.name, external_id=info.pipeline_id).first()
    if info.published_pipeline_id:
        published = PublishedPipeline.objects.filter(
            backend=backend.name, external_id=info.published_pipeline_id
        ).first()
    with transaction.atomic():
        existing = PipelineRun.objects.filter(backend=backend.name, external_id=info.id)
        if holds_newer(existing, "backend_updated_at", info.updated_at):
            return existing.get()  # read before a change the mirror already holds
        run, created = PipelineRun.objects.update_or_create(
            backend=backend.name,
            external_id=info.id,
            defaults={
                "pipeline": pipeline,
                "pipeline_name": pipeline.name if pipeline else info.pipeline_id,
                "published_pipeline": published,
                "display_name": info.display_name,
                "experiment_name": info.experiment_name,
                "description": info.description,
                "status": RunStatus.normalize(info.status),
                "tags": info.tags,
                "properties": info.properties,
                "parameters": info.parameters,
                "submitted_by": info.submitted_by,
                "compute": info.compute,
                "continue_on_step_failure": info.continue_on_step_failure,
                "error": public_message(info.error),
                "created_at": info.created_at,
                "started_at": info.started_at,
                "finished_at": info.finished_at,
                "duration_seconds": (
                    (info.finished_at - info.started_at).total_seconds()
                    if info.started_at and info.finished_at
                    else None
                ),
                "backend_updated_at": info.updated_at,
                "external_url": info.url,
            },
        )
        if created or run.tags != dict(run.tag_rows.values_list("key", "value")):
            run.tag_rows.all().delete()
            RunTag.objects.bulk_create(
                RunTag(run=run, key=k, value=str(v), created_at=run.created_at) for k, v in info.tags.items()
            )
        StepRun.objects.bulk_create(
            [
                StepRun(
                    run=run,
                    node_id=s.node_id,
                    external_id=s.id,
                    display_name=s.display_name,
                    status=RunStatus.normalize(s.status),
                    job_type=s.job_type,
                    command=s.command,
                    environment=s.environment,
                    compute=s.compute,
                    inputs=s.inputs,
                    outputs=s.outputs,
                    exit_code=s.exit_code,
                    error=public_message(s.error),
                    is_reused=s.is_reused,
                    reused_run_id=s.reused_run_id,
                    reused_step_id=s.reused_step_id,
                    log_names=list(s.log_names),
                    snapshot=s.snapshot,
                    position=position,
                    queued_at=s.queued_at,
                    started_at=s.started_at,
                    finished_at=s.finished_at,
                    external_url=s.url,
                )
                for position, s in enumerate(steps)
            ],
            update_conflicts=True,
            unique_fields=["run", "node_id"],
            update_fields=STEP_FIELDS,
        )
        if graph is not None:
            StepEdge.objects.bulk_create(
                [
                    StepEdge(
                        run=run,
                        source_node=e.source_node,
                        source_output=e.source_output,
                        target_node=e.target_node,
                        target_input=e.target_input,
                    )
                    for e in graph.edges
                ],
                ignore_conflicts=True,
            )
    return run
