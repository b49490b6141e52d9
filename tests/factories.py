"""Rows for tests, made the way the mirror makes them: through its own sync functions, from the backend contract's
dataclasses. A test says only what matters to it; everything else has a plain default.

Each function is keyword-only and takes any field its dataclass has (RunInfo, StepInfo, PipelineInfo,
PublishedPipelineInfo, ScheduleInfo, FireInfo), so a test may give odd values (markup, far-off times) and see
them stored exactly as a sync would store them. Calling a function again with the same ``external_id`` syncs
the object again, as the next sync pass would.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from backends.base import (
    Backend,
    FireInfo,
    FireStatus,
    Graph,
    GraphEdge,
    GraphNode,
    PipelineInfo,
    PublishedPipelineInfo,
    RunInfo,
    RunStatus,
    ScheduleInfo,
    StepInfo,
)
from backends.local import environments
from backends.local.config import EngineConfig
from backends.local.engine import submit_spec
from backends.local.environment_models import LocalEnvironment
from backends.local.models import LocalStep
from backends.local.spec import StepSpec, load_pipeline
from dashboard.actions import action_on, action_record
from dashboard.models import Action
from runs.models import Pipeline, PipelineRun, PublishedPipeline
from runs.sync import mirror_published, mirror_run, sync_pipelines
from schedules.models import Schedule, ScheduleFire
from schedules.sync import mirror_schedule, sync_fires

_ids = itertools.count(1)

LOG_NAMES = ("stdout", "stderr", "system")
EVERY_HOUR = {
    "type": "recurrence",
    "frequency": "hour",
    "interval": 1,
    "schedule": {},
    "time_zone": "UTC",
    "time_zone_name": "UTC",
    "start_time": "2026-01-01T00:00:00",
    "end_time": None,
}


def unique_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):05d}"


class _Answering(Backend):
    """A named backend that answers the catalog reads with what a factory was given, and nothing else."""

    def __init__(
        self, name: str, *, pipelines: Iterable[PipelineInfo] = (), fires: Iterable[FireInfo] = ()
    ) -> None:
        super().__init__(name)
        self._pipelines = list(pipelines)
        self._fires = list(fires)

    def list_pipelines(self) -> list[PipelineInfo]:
        return self._pipelines

    def list_fires(self, changed_since: datetime | None) -> list[FireInfo]:
        return self._fires


# --- runs -------------------------------------------------------------------------------------


def step_info(step: str | dict[str, Any] | StepInfo, *, run_id: str) -> StepInfo:
    """A step given by its name (Completed, with the three logs), as a dict of StepInfo's fields (``node_id``
    at least), or as a StepInfo."""
    if isinstance(step, StepInfo):
        return step
    fields = {"node_id": step} if isinstance(step, str) else dict(step)
    node = fields["node_id"]
    fields.setdefault("id", f"{run_id}-{node}")
    fields.setdefault("status", RunStatus.COMPLETED)
    fields.setdefault("display_name", node)
    fields["log_names"] = tuple(fields.get("log_names", LOG_NAMES))
    return StepInfo(**fields)


def run(
    *,
    backend: str = "local",
    external_id: str | None = None,
    status: str = RunStatus.COMPLETED,
    steps: Iterable[str | dict[str, Any] | StepInfo] = (),
    edges: Iterable[tuple[str, str, str, str] | GraphEdge] = (),
    pipeline: Pipeline | None = None,
    published: PublishedPipeline | None = None,
    duration: float | None = None,
    **fields: Any,
) -> PipelineRun:
    """A run as sync mirrors it: ``mirror_run`` with its steps and graph read together with it.

    ``fields`` are RunInfo's. Created now and started when created, unless given; ``duration`` (seconds) sets
    ``finished_at`` from ``started_at``. ``pipeline`` and ``published`` are mirrored rows of the same backend,
    given by object rather than by id. ``edges`` are ``(source, output, target, input)``.
    """
    external_id = external_id or unique_id("run")
    fields.setdefault("created_at", timezone.now())
    fields.setdefault("started_at", fields["created_at"])
    if duration is not None:
        fields["finished_at"] = fields["started_at"] + timedelta(seconds=duration)
    for given, id_field in ((pipeline, "pipeline_id"), (published, "published_pipeline_id")):
        if given is not None:
            assert given.backend == backend, f"{given} is on backend {given.backend}, the run on {backend}"
            fields[id_field] = given.external_id
    infos = tuple(step_info(s, run_id=external_id) for s in steps)
    graph = Graph(
        nodes=tuple(GraphNode(s.node_id, s.id, s.display_name) for s in infos),
        edges=tuple(e if isinstance(e, GraphEdge) else GraphEdge(*e) for e in edges),
    )
    info = RunInfo(id=external_id, status=status, steps=infos, graph=graph, **fields)
    return mirror_run(Backend(backend), info)


# --- the catalog: pipelines, published pipelines, schedules and their fires -------------------


def pipeline(
    *, backend: str = "local", external_id: str | None = None, name: str | None = None, **fields: Any
) -> Pipeline:
    """A pipeline as ``sync_pipelines`` mirrors it; ``name`` is its id unless given."""
    external_id = external_id or unique_id("pipeline")
    info = PipelineInfo(id=external_id, name=name or external_id, **fields)
    sync_pipelines(_Answering(backend, pipelines=[info]))
    return Pipeline.objects.get(backend=backend, external_id=external_id)


def published(
    *,
    backend: str = "local",
    external_id: str | None = None,
    name: str | None = None,
    pipeline: Pipeline | None = None,
    source_run: PipelineRun | None = None,
    **fields: Any,
) -> PublishedPipeline:
    """A published pipeline as ``mirror_published`` mirrors it (Active unless ``status="Disabled"``)."""
    external_id = external_id or unique_id("published")
    if pipeline is not None:
        fields["pipeline_id"] = pipeline.external_id
    if source_run is not None:
        fields["source_run_id"] = source_run.external_id
    info = PublishedPipelineInfo(id=external_id, name=name or external_id, **fields)
    return mirror_published(Backend(backend), info)


def schedule(
    *,
    backend: str = "local",
    external_id: str | None = None,
    name: str | None = None,
    enabled: bool = True,
    trigger: dict[str, Any] | None = None,
    **fields: Any,
) -> Schedule:
    """A schedule as ``mirror_schedule`` mirrors it; hourly unless given another ``trigger``. What it runs is
    ``pipeline_id`` or ``published_pipeline_id``, as the backend names it."""
    external_id = external_id or unique_id("schedule")
    info = ScheduleInfo(
        id=external_id, name=name or external_id, enabled=enabled, trigger=trigger or EVERY_HOUR, **fields
    )
    return mirror_schedule(Backend(backend), info)


def fire(
    schedule: Schedule,
    *,
    fire_time: datetime,
    status: str = FireStatus.FIRED,
    run: PipelineRun | None = None,
    **fields: Any,
) -> ScheduleFire:
    """One slot of a schedule as ``sync_fires`` mirrors it: the run it started, or why it started none."""
    info = FireInfo(
        schedule_id=schedule.external_id,
        fire_time=fire_time,
        status=status,
        run_id=run.external_id if run else "",
        **fields,
    )
    sync_fires(_Answering(schedule.backend, fires=[info]), None)
    return ScheduleFire.objects.get(
        schedule=schedule, fire_time=fire_time, trigger_path=fields.get("trigger_path", "")
    )


# --- actions ----------------------------------------------------------------------------------

TARGET_TYPES = {
    PipelineRun: "run",
    PublishedPipeline: "published",
    Schedule: "schedule",
    Pipeline: "pipeline",
}


def action(
    *,
    kind: str = Action.Kind.CANCEL_RUN,
    user=None,
    target: PipelineRun | PublishedPipeline | Schedule | Pipeline | None = None,
    backend: str = "local",
    target_type: str = "run",
    target_id: str | None = None,
    target_label: str = "",
    reason: str = "",
    params: dict[str, Any] | None = None,
    **state: Any,
) -> Action:
    """An action recorded as a view records it (not enqueued), on a mirrored ``target`` or on a target given by
    type and id (one the mirror no longer has). ``state`` is what its task left: status, attempts, result,
    error, times."""
    if target is not None:
        recorded = action_on(
            target,
            kind=kind,
            target_type=TARGET_TYPES[type(target)],
            user=user,
            reason=reason,
            params=params,
            enqueue=False,
        )
    else:
        recorded = action_record(
            kind=kind,
            backend=backend,
            target_type=target_type,
            target_id=target_id or unique_id("target"),
            target_label=target_label,
            user=user,
            reason=reason,
            params=params,
        )
    if state:
        Action.objects.filter(pk=recorded.pk).update(**state)
        recorded.refresh_from_db()
    return recorded


# --- the local engine's environments -----------------------------------------------------------


def preparing_step(
    folder: Path, environment: str, config: EngineConfig | None = None
) -> tuple[LocalStep, StepSpec]:
    """A step of a new local run, claimed by a worker (Preparing), whose job declares ``environment`` (its YAML,
    indented under the job). It is claimed before the run is committed, so no worker is sent it: the test
    prepares it as the worker would."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipeline.yml"
    path.write_text(
        f"type: pipeline\njobs:\n  step:\n    command: python -c 'import tabulate'\n{environment}"
    )
    spec = load_pipeline(path, config=config)
    with transaction.atomic():
        run = submit_spec(spec)
        run.steps.update(status=RunStatus.PREPARING, heartbeat_at=timezone.now())
    return run.steps.get(node_id="step"), spec.jobs["step"]


def requirements_environment(folder: Path, requirements: str) -> str:
    """A requirements file in ``folder``, and the environment YAML of a job that uses it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.txt").write_text(requirements)
    return "    environment: {image: python:3.11, conda_file: ./requirements.txt}\n"


def built_environment(
    folder: Path, requirements: str = "tabulate==0.9.0\n", *, mirror: bool = True
) -> tuple[LocalEnvironment, LocalStep]:
    """An environment built as a worker builds one (uv, into the engine folder) for a step that then completed;
    the step's run is mirrored too, unless ``mirror`` is False."""
    step, job = preparing_step(folder, requirements_environment(folder, requirements))
    environments.prepare(step, job, build=True)
    LocalStep.objects.filter(pk=step.pk).update(status=RunStatus.COMPLETED, finished_at=timezone.now())
    if mirror:
        run(backend="local", external_id=step.run_id, steps=[{"node_id": "step", "id": step.pk}])
    environment = LocalEnvironment.objects.get(uses__step=step)
    return environment, LocalStep.objects.get(pk=step.pk)
