"""Submitting to the local engine: a job file registered as a pipeline, a run and its steps created from a
PipelineSpec (parameters applied, required values checked, code snapshotted), and the run's first steps queued."""

from __future__ import annotations

import copy
import dataclasses
import secrets
import uuid
from pathlib import Path
from typing import Any

from django.db import transaction

from backends.base import PipelineInput
from backends.inputs import combined_rules
from backends.local import config as local_config
from backends.local import executor, runtime
from backends.local.models import (
    LocalPipeline,
    LocalPublishedPipeline,
    LocalRun,
    LocalStep,
)
from backends.local.spec import PipelineSpec, SpecError, SpecProblem, load_pipeline

LOG_NAMES = ("stdout", "stderr", "system")


def log_names(step: LocalStep) -> tuple[str, ...]:
    """stdout, stderr and system; a distributed job's process i (from 1) adds stdout.i and stderr.i."""
    return LOG_NAMES + tuple(name for pair in runtime.process_log_names(step.processes)[1:] for name in pair)


_ADJECTIVES = (
    "amber brave calm eager gentle keen lucid merry nimble quiet rapid silver sunny tidy vivid witty".split()
)
_NOUNS = "apple beacon cloud harbor lamp lantern maple otter pepper plum river rocket sail tiger violet wave".split()


def _new_run_id() -> str:
    # Azure ML v2 job names look like "keen_lamp_8x2kq4w7mz"; ours follow that shape.
    suffix = secrets.token_hex(5)
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{suffix}"


def _pipeline_name(spec: PipelineSpec) -> str:
    if spec.name:
        return spec.name
    path = Path(spec.path)
    return path.parent.name if path.stem in ("pipeline", "pipeline_job", "job") else path.stem


def register_pipeline_file(
    path: Path | str, config: local_config.EngineConfig | None = None
) -> LocalPipeline:
    """Load a pipeline YAML (raising SpecError when it is invalid) and register it under its name."""
    return register_pipeline_spec(load_pipeline(path, config=config or local_config.current()))


def register_pipeline_spec(spec: PipelineSpec) -> LocalPipeline:
    pipeline, _ = LocalPipeline.objects.update_or_create(
        id=_pipeline_name(spec),
        defaults={
            "display_name": spec.display_name,
            "description": spec.description,
            "experiment_name": spec.experiment_name,
            "tags": spec.tags,
            "source": spec.path,
            "definition": spec.text,
            "spec": spec.to_dict(),
        },
    )
    return pipeline


def pipeline_inputs(spec: PipelineSpec) -> tuple[PipelineInput, ...]:
    """The pipeline's inputs as a form asks for them: each with the rules of the job inputs it is bound to too,
    and required when submit_spec would refuse a run without a value for it."""
    bound: dict[str, list[dict]] = {name: [] for name in spec.inputs}
    needed = set()
    for job in spec.jobs.values():
        for binding in job.inputs.values():
            if binding.kind == "pipeline_input" and binding.source in bound:
                bound[binding.source].append(binding.rules or {})
                needed |= {binding.source} if binding.required else set()
    described = []
    for name, given in spec.inputs.items():
        rules = combined_rules(given.rules, *bound[name])
        described.append(
            PipelineInput(
                name=name,
                type=given.type,
                default=given.default,
                optional=given.optional,
                required=not given.optional and (given.default is not None or name in needed),
                description=given.description,
                enum=tuple(rules["enum"]) if "enum" in rules else None,
                min=rules.get("min"),
                max=rules.get("max"),
            )
        )
    return tuple(described)


def submit_spec(
    spec: PipelineSpec,
    *,
    pipeline: LocalPipeline | None = None,
    published: LocalPublishedPipeline | None = None,
    parameters: dict[str, Any] | None = None,
    experiment: str = "",
    tags: dict[str, str] | None = None,
    submitted_by: str = "",
) -> LocalRun:
    """Create the run and its steps; the first ready steps are queued once the rows are committed. ``tags`` are
    the run's, over the pipeline's own.

    Raises SpecError when a parameter is unknown or of the wrong type, or a required input has no value.
    """
    if spec.kind == "component":
        message = "a pipeline component runs as a job of a pipeline (component: ./this.yml), not on its own"
        raise SpecError([SpecProblem(spec.path, 1, "$schema", message)])
    if parameters:
        spec = spec.with_parameters(parameters, local_config.current())
    if missing := spec.missing_values():
        raise SpecError(missing)
    spec = _with_snapshots(spec)
    order = spec.topological_order()
    name = _pipeline_name(spec)
    with transaction.atomic():
        run = LocalRun.objects.create(
            id=_new_run_id(),
            pipeline=pipeline,
            published=published,
            display_name=spec.display_name or name,
            experiment_name=experiment or spec.experiment_name or name,
            description=spec.description,
            tags={**spec.tags, **(tags or {})},
            parameters={k: v.default for k, v in spec.inputs.items()},
            spec=spec.to_dict(),
            submitted_by=submitted_by,
            continue_on_step_failure=spec.continue_on_step_failure,
        )
        LocalStep.objects.bulk_create(
            LocalStep(
                id=uuid.uuid4().hex,
                run=run,
                node_id=node_id,
                position=position,
                display_name=spec.jobs[node_id].display_name or node_id,
                environment=spec.jobs[node_id].environment,
                compute=spec.jobs[node_id].compute or spec.default_compute,
                snapshot=spec.jobs[node_id].snapshot or "",
                processes=runtime.process_count(
                    spec.jobs[node_id].distribution, spec.jobs[node_id].instance_count
                ),
            )
            for position, node_id in enumerate(order)
        )
        transaction.on_commit(lambda: executor.advance(run.pk))
    return run


def _with_snapshots(spec: PipelineSpec) -> PipelineSpec:
    """A copy whose steps name the snapshot of their code folder, taken now, as Azure ML takes it at submit."""
    spec = copy.copy(spec)
    spec.jobs = dict(spec.jobs)
    taken: dict[str, str] = {}
    for name, job in spec.jobs.items():
        if not job.code:
            continue
        if job.code not in taken:
            try:
                taken[job.code] = runtime.take_snapshot(job.code, executor.snapshots_dir())
            except runtime.SnapshotError as error:
                raise SpecError([SpecProblem(spec.path, job.line, f"jobs.{name}.code", str(error))]) from None
        spec.jobs[name] = dataclasses.replace(job, snapshot=taken[job.code])
    return spec
