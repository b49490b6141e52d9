"""From Azure ML's shapes to the contract's: run history's runs and the SDK's job definitions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ruamel.yaml import YAML

from backends.azureml.options import Options
from backends.azureml.pipelines_v1 import SCHEDULE_PREFIX
from backends.azureml.runhistory import parse_time
from backends.base import Graph, GraphNode, RunInfo, RunStatus, StepInfo
from backends.bindings import edges_of, topological_order

# Statuses Azure ML has beyond the contract's vocabulary, as the nearest one.
STATUS = {
    "Paused": RunStatus.QUEUED,
    "Unapproved": RunStatus.NOT_STARTED,
    "Unknown": RunStatus.NOT_RESPONDING,
}
EXIT_CODE = re.compile(r"exited with (?:status |exit )?code:? ?(-?\d+)", re.IGNORECASE)


def status(raw: Any) -> str:
    text = str(raw or RunStatus.NOT_STARTED)
    text = text.split(".")[-1] if text.startswith("JobStatus.") else text
    mapped = STATUS.get(text) or RunStatus.ALIASES.get(text, text)
    if mapped in RunStatus.ALL:
        return mapped
    for known in RunStatus.ALL:  # the SDK's enum values are upper case ("RUNNING")
        if known.lower() == mapped.replace("_", "").lower():
            return known
    return RunStatus.NOT_RESPONDING


def studio_url(options: Options, run_id: str) -> str:
    return (
        f"https://ml.azure.com/runs/{run_id}?wsid=/subscriptions/{options.subscription_id}"
        f"/resourcegroups/{options.resource_group}/workspaces/{options.workspace_name}"
    )


def schedule_of(run: dict[str, Any]) -> str:
    """The schedule that started a run, as the mirror names it: a v2 schedule by its name, a v1 one ``v1:{id}``.
    v2 jobs carry ``azureml.DevPlatv2``; runs of the v1 pipelines service do not."""
    schedule = str(run.get("scheduleId") or "")
    if not schedule:
        return ""
    v2 = str((run.get("properties") or {}).get("azureml.DevPlatv2", "")).lower() == "true"
    return schedule if v2 else f"{SCHEDULE_PREFIX}{schedule}"


def error_text(run: dict[str, Any]) -> str:
    error = run.get("error") or {}
    inner = error.get("error") if isinstance(error, dict) else None
    message = (inner or error).get("message") if isinstance(inner or error, dict) else None
    return str(message or "").strip()


def exit_code(message: str) -> int | None:
    match = EXIT_CODE.search(message or "")
    return int(match[1]) if match else None


@dataclass(frozen=True)
class Definition:
    """A job as the SDK reads it from ARM: what it runs, and for a pipeline job its ``jobs:`` nodes."""

    name: str
    kind: str  # pipeline, command, sweep, ...
    text: str  # the job as YAML
    display_name: str = ""
    description: str = ""
    experiment_name: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    compute: str = ""
    studio_url: str = ""
    created_by: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    continue_on_step_failure: bool = False

    @classmethod
    def of(cls, job: Any) -> Definition:
        """From an azure-ai-ml Job entity: its attributes, and its YAML form (what ``az ml job show`` prints)
        for the ``jobs:`` nodes and their bindings."""
        text = str(job)
        data = YAML(typ="safe").load(text) or {}
        component = data.get("component") if isinstance(data.get("component"), dict) else {}
        settings = data.get("settings") or {}
        properties = getattr(job, "properties", None) or {}
        continue_on_failure = settings.get("continue_on_step_failure")
        if continue_on_failure is None:
            continue_on_failure = (
                str(properties.get("azureml.continue_on_step_failure", "")).lower() == "true"
            )
        context = getattr(job, "creation_context", None)
        kind = str(getattr(job, "type", None) or data.get("type") or "command")
        nodes = data.get("jobs") or {}
        if kind != "pipeline":  # a command (or sweep...) job: one node, itself
            nodes = {str(job.name): {**component, **{k: v for k, v in data.items() if k != "component"}}}
        return cls(
            name=str(job.name),
            kind=kind,
            text=text,
            display_name=str(getattr(job, "display_name", "") or ""),
            description=str(getattr(job, "description", "") or ""),
            experiment_name=str(getattr(job, "experiment_name", "") or ""),
            tags={str(k): str(v) for k, v in (getattr(job, "tags", None) or {}).items()},
            compute=_plain_name(getattr(job, "compute", None)),
            studio_url=getattr(job, "studio_url", "") or "",
            created_by=str(getattr(context, "created_by", "") or ""),
            inputs={str(k): _input_value(v) for k, v in (data.get("inputs") or {}).items()},
            nodes={str(k): v for k, v in nodes.items() if isinstance(v, dict)},
            continue_on_step_failure=bool(continue_on_failure),
        )

    @classmethod
    def from_run_history(
        cls, run_id: str, root: dict[str, Any], children: list[dict[str, Any]]
    ) -> Definition:
        """What run history alone says of a run: its child runs as steps, in the order they started."""
        ordered = sorted(
            children, key=lambda c: (c.get("startTimeUtc") or c.get("createdUtc") or "", c.get("runId"))
        )
        return cls(
            name=run_id,
            kind="pipeline" if children else "command",
            text="",
            display_name=str(root.get("displayName") or ""),
            description=str(root.get("description") or ""),
            nodes={str(c.get("displayName") or c.get("runId")): {"type": "command"} for c in ordered},
        )

    def node_names(self) -> list[str]:
        """The steps in the order a run goes through them: the nodes of a pipeline, or the job itself."""
        if self.kind != "pipeline":
            return [self.name]
        return topological_order(self.nodes, edges_of(self.nodes))

    def graph(self, step_ids: dict[str, str]) -> Graph:
        return Graph(
            nodes=tuple(
                GraphNode(node_id=n, step_id=step_ids.get(n, ""), display_name=self._node_title(n))
                for n in self.node_names()
            ),
            edges=tuple(edges_of(self.nodes)) if self.kind == "pipeline" else (),
        )

    def _node_title(self, name: str) -> str:
        node = self.nodes.get(name) or {}
        return str(node.get("display_name") or name)


def _plain_name(value: Any) -> str:
    """``azureml:cpu-cluster`` or an ARM id (``.../computes/cpu-cluster``) as ``cpu-cluster``."""
    text = str(value or "").removeprefix("azureml:")
    return text.rsplit("/", 1)[-1] if text.startswith("/subscriptions/") else text


def _input_value(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("default", value.get("value", value.get("path", value)))
    return value


def run_info(
    run: dict[str, Any],
    definition: Definition | None,
    *,
    experiment_name: str,
    url: str,
    steps: tuple[StepInfo, ...] | None,
    graph: Graph | None = None,
) -> RunInfo:
    """A top-level run: times and status from run history, what it is from its definition."""
    properties = run.get("properties") or {}
    tags = {
        str(k): str(v) for k, v in (run.get("tags") or {}).items() if not str(k).startswith("_aml_system")
    }
    created_by = (run.get("createdBy") or {}).get("userName") or (definition.created_by if definition else "")
    return RunInfo(
        id=str(run["runId"]),
        status=status(run.get("status")),
        display_name=str(run.get("displayName") or (definition.display_name if definition else "") or ""),
        experiment_name=experiment_name or (definition.experiment_name if definition else ""),
        description=str(run.get("description") or (definition.description if definition else "") or ""),
        published_pipeline_id=str(properties.get("azureml.pipelineid") or ""),
        schedule_id=schedule_of(run),
        tags=tags or (dict(definition.tags) if definition else {}),
        properties={str(k): str(v) for k, v in properties.items()},
        parameters=dict(definition.inputs) if definition else {},
        submitted_by=str(created_by or ""),
        compute=str(run.get("target") or (definition.compute if definition else "") or ""),
        continue_on_step_failure=bool(definition and definition.continue_on_step_failure),
        error=error_text(run),
        created_at=parse_time(run.get("createdUtc")),
        started_at=parse_time(run.get("startTimeUtc")),
        finished_at=parse_time(run.get("endTimeUtc")),
        updated_at=parse_time(run.get("lastModifiedUtc")) or parse_time(run.get("createdUtc")),
        url=url,
        steps=steps,
        graph=graph,
    )


def step_info(
    node_id: str,
    node: dict[str, Any],
    run: dict[str, Any] | None,
    *,
    log_names: tuple[str, ...],
    url: str,
) -> StepInfo:
    """A step: its node in the pipeline, and its run in run history once it has one."""
    run = run or {}
    properties = run.get("properties") or {}
    error = error_text(run)
    inputs = {str(k): _input_value(v) for k, v in (node.get("inputs") or {}).items()}
    for name, value in (run.get("inputs") or {}).items():
        if isinstance(value, dict) and value.get("assetId"):
            inputs[str(name)] = value["assetId"]
    outputs = {str(k): _input_value(v) for k, v in (node.get("outputs") or {}).items()}
    for name, value in (run.get("outputs") or {}).items():
        if isinstance(value, dict) and value.get("assetId"):
            outputs[str(name)] = value["assetId"]
    reused = str(properties.get("azureml.isreused", "")).lower() == "true"
    return StepInfo(
        id=str(run.get("runId") or ""),
        node_id=node_id,
        status=status(run.get("status")) if run else RunStatus.NOT_STARTED,
        display_name=str(node.get("display_name") or run.get("displayName") or node_id),
        job_type=str(node.get("type") or "command"),
        command=str(node.get("command") or ""),
        environment=_plain_name(node.get("environment")),
        compute=str(run.get("target") or _plain_name(node.get("compute"))),
        inputs=inputs,
        outputs=outputs,
        exit_code=exit_code(error),
        error=error,
        is_reused=reused,
        reused_run_id=str(properties.get("azureml.reusedpipelinerunid") or "") if reused else "",
        reused_step_id=str(properties.get("azureml.reusedrunid") or "") if reused else "",
        log_names=log_names,
        queued_at=parse_time(run.get("createdUtc")),
        started_at=parse_time(run.get("startTimeUtc")),
        finished_at=parse_time(run.get("endTimeUtc")),
        url=url if run else "",
    )


def latest(moments: list[datetime | None]) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None
