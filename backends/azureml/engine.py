"""An Azure ML workspace behind the backend contract.

What is read where: runs, their times and their steps from run history (listed per experiment, newest first,
down to the watermark; a pipeline job and its steps in one query); what a job runs (its ``jobs:`` nodes, hence
the graph) from ARM through MLClient, once per run; schedules through MLClient; published pipelines, endpoints
and v1 schedules from the v1 pipelines service; logs from Blob Storage by byte range.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from ruamel.yaml.error import YAMLError

from backends import yamlfile
from backends.azureml import options as azure_options
from backends.azureml.cache import Memo
from backends.azureml.client import Workspace, calls
from backends.azureml.logs import STD_LOG, StepLogs
from backends.azureml.mapping import Definition, run_info, status, step_info, studio_url
from backends.azureml.pipelines_v1 import ENDPOINT_PREFIX, SCHEDULE_PREFIX, PipelinesService
from backends.azureml.runhistory import RunHistory, parse_time
from backends.azureml.schedules import schedule_info
from backends.base import (
    Backend,
    CheckResult,
    Conflict,
    Graph,
    InvalidParameters,
    LogChunk,
    NotFound,
    PublishedPipelineInfo,
    RunInfo,
    RunStatus,
    ScheduleInfo,
    StepInfo,
)

KNOWN_RUNS = 20_000  # runs whose experiment and last answer are remembered between passes


class AzureMLBackend(Backend):
    engine = "azureml"

    @classmethod
    def option_problems(cls, options: dict[str, Any]) -> list[str]:
        return azure_options.problems(options)

    def __init__(self, name: str, **options: Any) -> None:
        super().__init__(name, **options)
        self.settings = azure_options.parse(options)
        self.catalog_seconds = self.settings.catalog_seconds
        self.workspace = Workspace(self.settings)
        self.history = RunHistory(self.workspace)
        self.v1 = PipelinesService(self.workspace)
        self.logs = StepLogs(self.workspace, self.history)
        self._definitions: Memo[str, Definition] = Memo(size=KNOWN_RUNS)  # of runs under way
        self._scopes: Memo[str, str] = Memo(size=KNOWN_RUNS)  # run id → its experiment's query scope
        self._seen: Memo[str, str] = Memo(size=KNOWN_RUNS)  # terminal run id → lastModifiedUtc read
        # The logs of the steps of runs under way, by step run, with the status they were listed at.
        self._step_logs: Memo[str, tuple[str, tuple[str, ...]]] = Memo(size=KNOWN_RUNS)
        self._latest: Memo[str, RunInfo] = Memo(size=200, ttl=60)  # the last read, for the graph that follows
        self._experiments: dict[str, str] = {}  # experiment id → name
        self._experiments_until: datetime | None = None

    @property
    def poll_seconds(self) -> float:
        return 0 if self.settings.recording else 2

    def describe(self) -> tuple[tuple[str, str], ...]:
        s = self.settings
        facts = [
            ("workspace", s.workspace_name),
            ("resource group", s.resource_group),
            ("subscription", s.subscription_id),
        ]
        if s.experiments:
            facts.append(("experiments", ", ".join(s.experiments)))
        if s.recording:
            facts.append(("replaying", s.recording))
        return tuple(facts)

    def check(self) -> CheckResult:
        from backends.azureml.checking import check_workspace

        return check_workspace(self)

    # --- runs -------------------------------------------------------------------------------

    def _scopes_to_list(self) -> list[str]:
        """The experiments whose runs are listed: the configured ones, or every one (new ones found each pass)."""
        if self.settings.experiments:
            return [f"experiments/{name}" for name in self.settings.experiments]
        with calls("listing experiments"):
            for found in self.history.experiments(created_after=self._experiments_until):
                self._experiments[str(found["experimentId"])] = str(found.get("name") or "")
                created = parse_time(found.get("createdUtc"))
                if created and (self._experiments_until is None or created > self._experiments_until):
                    self._experiments_until = created
        return [f"experimentids/{eid}" for eid in self._experiments]

    def list_runs(
        self, changed_since: datetime | None, active_ids: frozenset[str] = frozenset()
    ) -> list[RunInfo]:
        since = changed_since or timezone.now() - timedelta(days=self.settings.history_days)
        found: dict[str, RunInfo] = {}
        for scope in self._scopes_to_list():
            with calls(f"listing the runs of {scope}"):
                listed = list(self.history.root_runs(scope, created_after=since))
            for run in listed:
                run_id = str(run["runId"])
                if run.get("hidden") and not self.settings.include_archived:
                    continue  # archived
                self._scopes.put(run_id, scope)
                if self._seen.get(run_id) == run.get("lastModifiedUtc"):
                    continue  # ended, and read as it is now in an earlier pass
                found[run_id] = self._read(run_id, scope, root=run)
        for run_id in sorted(active_ids - found.keys()):
            found[run_id] = self._read(run_id, self._scope_of(run_id))
        return list(found.values())

    def _scope_of(self, run_id: str) -> str:
        scope = self._scopes.get(run_id)
        if scope is None:
            with calls(f"reading run {run_id}"):
                scope = self._scopes.put(run_id, f"experimentids/{self.history.run(run_id)['experimentId']}")
        return scope

    def _definition(self, run_id: str) -> Definition:
        """The job as ARM has it; for a run ARM does not know as a job (a v1 pipeline run), an empty one, and
        run history alone describes it."""
        definition = self._definitions.get(run_id)
        if definition is None:
            try:
                with calls(f"reading job {run_id}"):
                    definition = Definition.of(self.workspace.ml_client.jobs.get(run_id))
            except NotFound:
                definition = Definition(name=run_id, kind="", text="")
            self._definitions.put(run_id, definition)
        return definition

    def _read(self, run_id: str, scope: str, root: dict[str, Any] | None = None) -> RunInfo:
        """A run and its steps as they are now: one run-history query for a pipeline job and its steps."""
        definition = self._definition(run_id)
        if definition.kind in ("pipeline", "") or root is None:
            with calls(f"reading run {run_id} and its steps"):
                family = self.history.family(scope, run_id)
            root = next((r for r in family if r.get("runId") == run_id), root)
            children = [r for r in family if r.get("parentRunId") == run_id]
        else:
            children = []
        if root is None:
            with calls(f"reading run {run_id}"):
                root = self.history.run(run_id)
        if not definition.kind:
            definition = Definition.from_run_history(run_id, root, children)
        steps = self._steps(definition, root, children)
        info = run_info(
            root,
            definition,
            experiment_name=self._experiments.get(str(root.get("experimentId")), ""),
            url=definition.studio_url or studio_url(self.settings, run_id),
            steps=steps,
            graph=definition.graph({s.node_id: s.id for s in steps}),
        )
        if RunStatus.is_terminal(info.status):  # read as it ended: nothing of it is asked for again
            self._seen.put(run_id, root.get("lastModifiedUtc"))
            self._definitions.forget(run_id)
            for step in steps:
                self._step_logs.forget(step.id)
        return self._latest.put(run_id, info)

    def _steps(self, definition: Definition, root: dict, children: list[dict]) -> tuple[StepInfo, ...]:
        if definition.kind != "pipeline":  # a command job is its own one step
            return (self._step(definition.name, definition.nodes.get(definition.name, {}), root),)
        by_node = {str(c.get("displayName") or c.get("name")): c for c in children}
        return tuple(
            self._step(n, definition.nodes.get(n, {}), by_node.get(n)) for n in definition.node_names()
        )

    def _step(self, node_id: str, node: dict, run: dict | None) -> StepInfo:
        return step_info(
            node_id,
            node,
            run,
            log_names=self._log_names(run),
            url=studio_url(self.settings, str(run["runId"])) if run else "",
        )

    def _log_names(self, run: dict | None) -> tuple[str, ...]:
        """The step's logs, asked for again only when its status changed (the list grows as it runs)."""
        if not run or status(run.get("status")) in (RunStatus.NOT_STARTED, RunStatus.QUEUED):
            return ()
        run_id, now = str(run["runId"]), str(run.get("status"))
        known = self._step_logs.get(run_id)
        if known is not None and known[0] == now:
            return known[1]
        try:
            with calls(f"listing the logs of step run {run_id}"):
                names = self.logs.names(run_id, fresh=True) or (STD_LOG,)
        except NotFound:  # run history has the run but not yet its details: ask again next time
            return (STD_LOG,)
        self._step_logs.put(run_id, (now, names))
        return names

    def get_run(self, run_id: str) -> RunInfo:
        self._seen.forget(run_id)
        return self._read(run_id, self._scope_of(run_id))

    def get_steps(self, run_id: str) -> list[StepInfo]:
        return list(self.get_run(run_id).steps or ())

    def get_graph(self, run_id: str) -> Graph:
        info = self._latest.get(run_id) or self._read(run_id, self._scope_of(run_id))
        return info.graph or Graph(nodes=(), edges=())

    def get_definition(self, run_id: str) -> str:
        return self._definition(run_id).text

    def read_log(self, run_id: str, step_id: str, name: str, offset: int, limit: int) -> LogChunk:
        with calls(f"reading log {name} of step run {step_id}"):
            return self.logs.read(step_id, name, offset, limit)

    # --- actions ----------------------------------------------------------------------------

    def cancel_run(self, run_id: str) -> str:
        current = self.get_run(run_id)
        if RunStatus.is_terminal(current.status):
            return current.status
        with calls(f"cancelling job {run_id}"):
            # The service answers at once and cancels in its own time; the next sync sees Canceled.
            self.workspace.ml_client.jobs.begin_cancel(run_id, polling=False).result()
        return RunStatus.CANCEL_REQUESTED

    def resubmit_run(self, run_id: str, *, force_rerun: bool, submitted_by: str = "") -> RunInfo:
        with calls(f"resubmitting job {run_id}"):
            job = self.workspace.ml_client.jobs.get(run_id)
            job.name = None  # a new job; the service names it
            if force_rerun and getattr(job, "settings", None) is not None:
                job.settings.force_rerun = True
            created = self.workspace.ml_client.jobs.create_or_update(job)
        return self._created(created, submitted_by)

    def submit_file(
        self, path: str, *, parameters: dict[str, Any], experiment: str = "", submitted_by: str = ""
    ) -> RunInfo:
        """A CLI v2 job or pipeline YAML, as ``az ml job create -f`` sends it."""
        from azure.ai.ml import load_job

        # The SDK reads YAML without limits: a file past the local engine's is refused before it reaches it.
        budget = yamlfile.Budget()
        try:
            yamlfile.parse(yamlfile.read_text(path, path, budget), path, budget)
        except yamlfile.YamlRefused as exc:
            raise InvalidParameters(str(exc)) from None
        except YAMLError as exc:
            line, message = yamlfile.error_line_and_message(exc)
            raise InvalidParameters(f"{path}:{line}: {message}") from None
        # As `az ml job create -f FILE --set inputs.x=v` does: the values override the file's as it loads.
        overrides = [{f"inputs.{key}": value} for key, value in parameters.items()]
        if experiment:
            overrides.append({"experiment_name": experiment})
        with calls(f"submitting {path}"):
            job = load_job(path, params_override=overrides)
            created = self.workspace.ml_client.jobs.create_or_update(job)
        return self._created(created, submitted_by)

    def _created(self, job: Any, submitted_by: str) -> RunInfo:
        definition = self._definitions.put(job.name, Definition.of(job))
        context = getattr(job, "creation_context", None)
        created = getattr(context, "created_at", None) or timezone.now()
        info = RunInfo(
            id=job.name,
            status=status(getattr(job, "status", None)),
            display_name=definition.display_name,
            experiment_name=definition.experiment_name,
            description=definition.description,
            tags=definition.tags,
            parameters=definition.inputs,
            submitted_by=submitted_by or definition.created_by,
            compute=definition.compute,
            created_at=created,
            updated_at=created,
            url=definition.studio_url or studio_url(self.settings, job.name),
            steps=tuple(self._step(n, definition.nodes.get(n, {}), None) for n in definition.node_names()),
            graph=definition.graph({}),
        )
        return self._latest.put(job.name, info)  # run history has no run yet: the graph comes from this

    # --- schedules and published pipelines ----------------------------------------------------

    def list_schedules(self) -> list[ScheduleInfo]:
        with calls("listing schedules"):
            # The SDK lists enabled schedules unless asked for all of them.
            v2 = [schedule_info(s) for s in self.workspace.ml_client.schedules.list(list_view_type="All")]
        with calls("listing v1 schedules"):
            v1 = self.v1.schedules()
        return v2 + v1

    def set_schedule_enabled(self, schedule_id: str, enabled: bool) -> ScheduleInfo:
        if schedule_id.startswith(SCHEDULE_PREFIX):
            with calls(f"{'enabling' if enabled else 'disabling'} v1 schedule {schedule_id}"):
                return self.v1.set_schedule_status(schedule_id.removeprefix(SCHEDULE_PREFIX), enabled)
        schedules = self.workspace.ml_client.schedules
        with calls(f"{'enabling' if enabled else 'disabling'} schedule {schedule_id}"):
            begin = schedules.begin_enable if enabled else schedules.begin_disable
            return schedule_info(begin(schedule_id, polling_interval=self.poll_seconds).result(timeout=120))

    def list_published_pipelines(self) -> list[PublishedPipelineInfo]:
        with calls("listing published pipelines"):
            return self.v1.published()

    def set_published_pipeline_enabled(self, published_id: str, enabled: bool) -> PublishedPipelineInfo:
        if published_id.startswith(ENDPOINT_PREFIX):
            raise self._unsupported(
                "disable or enable pipeline endpoints (disable their published pipelines)"
            )
        with calls(f"{'enabling' if enabled else 'disabling'} published pipeline {published_id}"):
            if not enabled:
                users = [
                    s.name
                    for s in self.v1.schedules()
                    if s.enabled and s.published_pipeline_id == published_id
                ]
                if users:
                    raise Conflict(
                        f"published pipeline {published_id} is used by enabled schedules: {', '.join(users)}; "
                        "disable them first"
                    )
            return self.v1.set_pipeline_status(published_id, enabled)
