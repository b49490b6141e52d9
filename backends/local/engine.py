"""The embedded local engine behind the backend contract: Azure ML CLI v2 pipeline YAML run on this machine."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from backends.base import (
    Backend,
    CheckResult,
    Conflict,
    FileChunk,
    FileListing,
    FireInfo,
    Graph,
    GraphEdge,
    GraphNode,
    InvalidParameters,
    LogChunk,
    NotFound,
    PipelineInfo,
    PublishedPipelineInfo,
    RunInfo,
    RunStatus,
    ScheduleInfo,
    StepInfo,
)
from backends.local import config as local_config
from backends.local import datarefs, executor, files, scheduler
from backends.local.executor import stop_local_steps
from backends.local.models import (
    LocalPipeline,
    LocalPublishedPipeline,
    LocalRun,
    LocalSchedule,
    LocalScheduleFire,
    LocalStep,
)
from backends.local.spec import PipelineSpec, SpecError
from backends.local.submission import (
    log_names,
    pipeline_inputs,
    register_pipeline_file,
    submit_spec,
)

__all__ = ["LocalEngine", "register_pipeline_file", "stop_local_steps", "submit_spec"]


class LocalEngine(Backend):
    """Runs pipelines as subprocesses on the Celery workers of the ``steps`` queue."""

    engine = "local"

    @classmethod
    def option_problems(cls, options: dict[str, Any]) -> list[str]:
        return local_config.problems(options)

    def __init__(self, name: str, **options: Any) -> None:
        super().__init__(name, **options)
        self.config = local_config.parse(options, local_config.backends_file_dir())

    def describe(self) -> tuple[tuple[str, str], ...]:
        return (("folder", str(executor.engine_dir())),)

    def check(self) -> CheckResult:
        folder = executor.engine_dir()
        facts = (
            ("folder", str(folder)),
            ("pipelines", str(LocalPipeline.objects.count())),
            ("runs", str(LocalRun.objects.count())),
            ("active runs", str(LocalRun.objects.exclude(status__in=RunStatus.TERMINAL).count())),
            ("schedules", str(LocalSchedule.objects.count())),
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".write-check"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            return CheckResult(
                ok=False,
                facts=facts,
                problem=f"the engine folder cannot be written: {exc.strerror}",
                advice="set RUNBOARD_LOCAL_ENGINE_DIR to a folder every worker can write",
            )
        return CheckResult(ok=True, facts=facts)

    def list_pipelines(self) -> list[PipelineInfo]:
        return [
            PipelineInfo(
                id=p.pk,
                name=p.pk,
                display_name=p.display_name,
                description=p.description,
                experiment_name=p.experiment_name,
                tags=p.tags,
                source=p.source,
                definition=p.definition,
                inputs=pipeline_inputs(PipelineSpec.from_dict(p.spec)),
                created_at=p.created_at,
                updated_at=p.updated_at,
            )
            for p in LocalPipeline.objects.order_by("pk")
        ]

    def list_runs(
        self, changed_since: datetime | None, active_ids: frozenset[str] = frozenset()
    ) -> list[RunInfo]:
        runs = LocalRun.objects.defer("spec")
        if changed_since is not None:
            runs = runs.filter(Q(updated_at__gte=changed_since) | ~Q(status__in=RunStatus.TERMINAL))
        return [self._run_info(r) for r in runs.order_by("updated_at")]

    def get_run(self, run_id: str) -> RunInfo:
        return self._run_info(self._run(run_id))

    def get_steps(self, run_id: str) -> list[StepInfo]:
        run = self._run(run_id)
        steps = run.steps.select_related("reused_step").order_by("position")
        return [self._step_info(s, run.spec) for s in steps]

    def get_graph(self, run_id: str) -> Graph:
        run = self._run(run_id)
        spec = PipelineSpec.from_dict(run.spec)
        step_ids = dict(run.steps.values_list("node_id", "id"))
        return Graph(
            nodes=tuple(
                GraphNode(node_id=n, step_id=step_ids.get(n, ""), display_name=j.display_name or n)
                for n, j in spec.jobs.items()
            ),
            edges=tuple(
                GraphEdge(e.source_step, e.source_output, e.target_step, e.target_input) for e in spec.edges
            ),
        )

    def get_definition(self, run_id: str) -> str:
        return self._run(run_id).spec.get("text", "")

    def read_log(self, run_id: str, step_id: str, name: str, offset: int, limit: int) -> LogChunk:
        step = self._step(run_id, step_id)
        if name not in (names := log_names(step)):
            raise NotFound(f"step logs are {', '.join(names)}; there is no {name!r}")
        # A reused step's output came from the step it reused: so do its stdout and stderr.
        source = step.reused_step if step.reused_step and name != "system" else step
        more = not RunStatus.is_terminal(step.status)
        offset = max(0, offset)
        try:
            with executor.log_path(source, name).open("rb") as fh:
                size = fh.seek(0, 2)
                fh.seek(min(offset, size))
                data = fh.read(max(0, limit))
        except FileNotFoundError:
            return LogChunk(data=b"", offset=0, next_offset=0, size=0, more=more)
        return LogChunk(
            data=data,
            offset=min(offset, size),
            next_offset=min(offset, size) + len(data),
            size=size,
            more=more,
        )

    def list_files(
        self, run_id: str, step_id: str, area: str, path: str = "", limit: int = 1000
    ) -> FileListing:
        return files.list_files(self._step(run_id, step_id), area, path, limit)

    def read_file(
        self, run_id: str, step_id: str, area: str, path: str, offset: int, limit: int
    ) -> FileChunk:
        return files.read_file(self._step(run_id, step_id), area, path, offset, limit)

    def cancel_run(self, run_id: str) -> str:
        self._run(run_id)
        return executor.cancel_run(run_id)

    def submit_run(
        self,
        *,
        pipeline_id: str = "",
        published_id: str = "",
        parameters: dict[str, Any] | None = None,
        experiment: str = "",
        tags: dict[str, str] | None = None,
        submitted_by: str = "",
    ) -> RunInfo:
        published = None
        if published_id:
            published = self._published(published_id)
            if published.status != "Active":
                raise Conflict(f"published pipeline {published.name} {published.version} is disabled")
            spec, pipeline = PipelineSpec.from_dict(published.spec), published.pipeline
        else:
            try:
                pipeline = LocalPipeline.objects.get(pk=pipeline_id)
            except LocalPipeline.DoesNotExist:
                raise NotFound(f"no pipeline {pipeline_id!r} is registered with the local engine") from None
            spec = PipelineSpec.from_dict(pipeline.spec)
        try:
            run = submit_spec(
                spec,
                pipeline=pipeline,
                published=published,
                parameters=parameters,
                experiment=experiment,
                tags=tags,
                submitted_by=submitted_by,
            )
        except SpecError as exc:
            raise InvalidParameters(str(exc)) from None
        return self.get_run(run.pk)

    def submit_file(
        self, path: str, *, parameters: dict[str, Any], experiment: str = "", submitted_by: str = ""
    ) -> RunInfo:
        """Register the file's pipeline under its name, then run it (SpecError when the file is invalid)."""
        pipeline = register_pipeline_file(path, self.config)
        return self.submit_run(
            pipeline_id=pipeline.pk, parameters=parameters, experiment=experiment, submitted_by=submitted_by
        )

    def resubmit_run(self, run_id: str, *, force_rerun: bool, submitted_by: str = "") -> RunInfo:
        source = self._run(run_id)
        spec = PipelineSpec.from_dict(source.spec)
        if force_rerun:
            spec = dataclasses.replace(spec, force_rerun=True)
        run = submit_spec(
            spec,
            pipeline=source.pipeline,
            published=source.published,
            experiment=source.experiment_name,
            submitted_by=submitted_by,
        )
        return self.get_run(run.pk)

    # --- published pipelines ----------------------------------------------------------------

    def publish_pipeline(
        self,
        run_id: str,
        name: str,
        description: str,
        version: str,
        continue_on_step_failure: bool,
    ) -> PublishedPipelineInfo:
        run = self._run(run_id)
        spec = dataclasses.replace(
            PipelineSpec.from_dict(run.spec), continue_on_step_failure=continue_on_step_failure
        )
        published = LocalPublishedPipeline.objects.create(
            id=uuid.uuid4().hex,
            name=name,
            description=description,
            version=version,
            pipeline=run.pipeline,
            source_run=run,
            continue_on_step_failure=continue_on_step_failure,
            spec=spec.to_dict(),
        )
        return self._published_info(published)

    def list_published_pipelines(self) -> list[PublishedPipelineInfo]:
        return [self._published_info(p) for p in LocalPublishedPipeline.objects.order_by("created_at")]

    def set_published_pipeline_enabled(self, published_id: str, enabled: bool) -> PublishedPipelineInfo:
        published = self._published(published_id)
        if not enabled:
            users = scheduler.enabled_schedules_using(published)
            if users:
                raise Conflict(
                    f"published pipeline {published.name} is used by enabled schedules: {', '.join(users)}; "
                    "disable them first"
                )
        LocalPublishedPipeline.objects.filter(pk=published.pk).update(
            status="Active" if enabled else "Disabled", updated_at=timezone.now()
        )
        published.refresh_from_db()
        return self._published_info(published)

    # --- schedules --------------------------------------------------------------------------

    def list_schedules(self) -> list[ScheduleInfo]:
        return [self._schedule_info(s) for s in LocalSchedule.objects.order_by("pk")]

    def set_schedule_enabled(self, schedule_id: str, enabled: bool) -> ScheduleInfo:
        try:
            schedule = LocalSchedule.objects.get(pk=schedule_id)
        except LocalSchedule.DoesNotExist:
            raise NotFound(f"no schedule {schedule_id!r} in the local engine") from None
        if enabled and (missing := scheduler.missing_target(schedule)):
            raise Conflict(f"schedule {schedule_id} cannot be enabled: {missing}")
        return self._schedule_info(scheduler.set_enabled(schedule, enabled))

    def list_fires(self, changed_since: datetime | None) -> list[FireInfo]:
        fires = LocalScheduleFire.objects.all()
        if changed_since is not None:
            fires = fires.filter(updated_at__gte=changed_since)
        return [FireInfo(**scheduler.fire_info_fields(f)) for f in fires.order_by("updated_at")]

    def _schedule_info(self, schedule: LocalSchedule) -> ScheduleInfo:
        spec = schedule.spec
        return ScheduleInfo(
            id=schedule.pk,
            name=schedule.pk,
            enabled=schedule.enabled,
            display_name=schedule.display_name,
            description=schedule.description,
            trigger=schedule.trigger,
            pipeline_id=schedule.pipeline_id or "",
            published_pipeline_id=schedule.published_ref,
            experiment_name=spec.get("experiment_name", ""),
            parameters=spec.get("parameters", {}),
            tags=schedule.tags,
            definition=schedule.definition,
            created_at=schedule.created_at,
            updated_at=schedule.updated_at,
            missing=scheduler.missing_target(schedule),
        )

    # --- helpers ----------------------------------------------------------------------------

    def _run(self, run_id: str) -> LocalRun:
        try:
            return LocalRun.objects.get(pk=run_id)
        except LocalRun.DoesNotExist:
            raise NotFound(f"no run {run_id!r} in the local engine") from None

    def _step(self, run_id: str, step_id: str) -> LocalStep:
        try:
            return LocalStep.objects.select_related("reused_step").get(pk=step_id, run_id=run_id)
        except LocalStep.DoesNotExist:
            raise NotFound(f"run {run_id} has no step {step_id}") from None

    def _published(self, published_id: str) -> LocalPublishedPipeline:
        try:
            return LocalPublishedPipeline.objects.select_related("pipeline").get(pk=published_id)
        except LocalPublishedPipeline.DoesNotExist:
            raise NotFound(f"no published pipeline {published_id!r} in the local engine") from None

    def _published_info(self, published: LocalPublishedPipeline) -> PublishedPipelineInfo:
        spec = PipelineSpec.from_dict(published.spec)
        return PublishedPipelineInfo(
            id=published.pk,
            name=published.name,
            description=published.description,
            version=published.version,
            status=published.status,
            pipeline_id=published.pipeline_id or "",
            source_run_id=published.source_run_id or "",
            continue_on_step_failure=published.continue_on_step_failure,
            parameters={
                name: {"type": i.type, "default": i.default, "optional": i.optional}
                for name, i in spec.inputs.items()
            },
            created_at=published.created_at,
            updated_at=published.updated_at,
        )

    def _run_info(self, run: LocalRun) -> RunInfo:
        return RunInfo(
            id=run.pk,
            status=run.status,
            display_name=run.display_name,
            experiment_name=run.experiment_name,
            description=run.description,
            pipeline_id=run.pipeline_id or "",
            published_pipeline_id=run.published_id or "",
            tags=run.tags,
            parameters=run.parameters,
            submitted_by=run.submitted_by,
            compute="local",
            continue_on_step_failure=run.continue_on_step_failure,
            error=run.error,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            updated_at=run.updated_at,
        )

    def _step_info(self, step: LocalStep, spec: dict) -> StepInfo:
        reused = step.reused_step
        return StepInfo(
            id=step.pk,
            node_id=step.node_id,
            status=step.status,
            display_name=step.display_name,
            command=step.command,
            environment=step.environment,
            compute=step.compute,
            inputs=datarefs.shown_inputs(spec, step.node_id, step.inputs),
            outputs=step.outputs,
            exit_code=step.exit_code,
            error=step.error,
            is_reused=reused is not None,
            reused_run_id=reused.run_id if reused else "",
            reused_step_id=reused.pk if reused else "",
            log_names=log_names(step),
            snapshot=step.snapshot,
            queued_at=step.queued_at,
            started_at=step.started_at,
            finished_at=step.finished_at,
        )
