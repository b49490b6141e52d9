"""Load and check Azure ML CLI v2 pipeline YAML for the local engine.

Files are read unchanged, as ``az ml job create`` reads them, and checked in full before anything runs:
every problem found is reported at once, each naming its file, line and field, so that a pipeline is fixed
in one pass rather than one error per submit. Pure Python (no Django): the engine, the ``validate`` command
and the tests share it.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any

from backends import yamlfile
from backends.bindings import NAME
from backends.inputs import LITERAL_TYPES, rule_problem
from backends.local import datarefs
from backends.local.checked import (
    PATH_TYPES,
    REMOTE,
    SpecError,
    SpecProblem,
    coerce,
    sorted_problems,
)
from backends.local.config import EngineConfig
from backends.local.rendering import render_command

__all__ = [
    "LITERAL_TYPES",
    "PATH_TYPES",
    "Binding",
    "EdgeSpec",
    "InputSpec",
    "OutputSpec",
    "PipelineSpec",
    "SpecError",
    "SpecProblem",
    "StepSpec",
    "load_pipeline",
    "parse_set_options",
    "render_command",
]


@dataclass
class InputSpec:
    name: str
    type: str
    default: Any = None
    optional: bool = False
    description: str = ""
    enum: list | None = None  # the values a string input may take
    min: float | None = None  # bounds of a number or integer input
    max: float | None = None

    @property
    def rules(self) -> dict[str, Any]:
        """What a value must satisfy, beyond its type (backends.inputs.rule_problem reads it)."""
        return {k: v for k, v in (("enum", self.enum), ("min", self.min), ("max", self.max)) if v is not None}


@dataclass
class OutputSpec:
    name: str
    type: str = "uri_folder"
    pipeline_output: str | None = None


@dataclass
class Binding:
    kind: str  # literal | pipeline_input | step_output | unset
    type: str
    value: Any = None
    source: str = ""
    output: str = ""
    # The job's input wants a value: it is declared without default or optional, and the command uses it
    # outside any optional segment $[[ ]].
    required: bool = field(default=False, compare=False)
    # The input's enum, min and max, to check a pipeline input's value against when it is given.
    rules: dict[str, Any] | None = field(default=None, compare=False)


@dataclass
class StepSpec:
    name: str
    display_name: str
    type: str
    command: str
    code: str | None
    environment: str
    # What the environment is made of (backends/local/envspec.py), for the engine to build; keyword-only, so
    # specs stored before it existed still load.
    environment_definition: dict | None = field(default=None, kw_only=True)
    compute: str
    environment_variables: dict[str, str]
    inputs: dict[str, Binding]
    outputs: dict[str, OutputSpec]
    timeout: int | None
    is_deterministic: bool
    component: str | None
    line: int
    # {type: pytorch | tensorflow | mpi, processes_per_instance, parameter_servers (tensorflow)}
    distribution: dict[str, Any] | None = None
    instance_count: int = 1
    snapshot: str | None = None  # the sha256 of its code folder's snapshot, taken when the run is submitted


@dataclass
class EdgeSpec:
    source_step: str
    source_output: str
    target_step: str
    target_input: str


ORDERED = ("inputs", "outputs", "jobs")  # the mappings whose order is the file's


@dataclass
class PipelineSpec:
    path: str
    text: str
    name: str
    display_name: str
    experiment_name: str
    description: str
    tags: dict[str, str]
    inputs: dict[str, InputSpec]
    outputs: dict[str, OutputSpec]
    continue_on_step_failure: bool
    force_rerun: bool
    default_compute: str
    jobs: dict[str, StepSpec]
    edges: list[EdgeSpec] = field(default_factory=list)
    # "pipeline"; "command": a command job file, run as a pipeline of its one step; "component": a pipeline
    # component's file, which runs only as a job of a pipeline
    kind: str = "pipeline"

    def upstream(self, step: str) -> set[str]:
        """The steps whose outputs ``step`` reads directly."""
        return {e.source_step for e in self.edges if e.target_step == step}

    def topological_order(self) -> list[str]:
        # One step at a time, earliest in the file first, so every run of a pipeline lists its steps alike.
        pending = {name: self.upstream(name) for name in self.jobs}
        order: list[str] = []
        while pending:
            ready = next((n for n, ups in pending.items() if ups <= set(order)), None)
            if ready is None:
                raise SpecError(
                    [SpecProblem(self.path, 0, "jobs", f"jobs form a cycle: {', '.join(pending)}")]
                )
            order.append(ready)
            del pending[ready]
        return order

    def with_parameters(self, values: dict[str, Any], config: EngineConfig | None = None) -> PipelineSpec:
        """A copy whose pipeline inputs take ``values`` (typed, or strings from a command line).

        ``config`` maps the datastores and data assets a value may name (none when None).
        """
        spec = copy.deepcopy(self)
        problems = []
        for key, value in values.items():
            name = key.removeprefix("parent.").removeprefix("inputs.")
            if name not in spec.inputs:
                known = ", ".join(spec.inputs) or "none"
                problems.append(
                    SpecProblem(self.path, 0, f"inputs.{name}", f"no such pipeline input ({known})")
                )
                continue
            try:
                spec.inputs[name].default = _parameter(value, spec.inputs[name], config or EngineConfig())
            except ValueError as error:
                problems.append(SpecProblem(self.path, 0, f"inputs.{name}", str(error)))
                continue
            problems += spec.rule_problems(name)
        if problems:
            raise SpecError(problems)
        return spec

    def rule_problems(self, name: str) -> list[SpecProblem]:
        """What is wrong with pipeline input ``name``'s value: against its own rules and those of every job
        input it is bound to."""
        value, found = self.inputs[name].default, []
        if value is None:
            return found
        checks = [(f"inputs.{name}", self.inputs[name].rules)]
        checks += [
            (f"jobs.{job.name}.inputs.{input_name}", b.rules)
            for job in self.jobs.values()
            for input_name, b in job.inputs.items()
            if b.kind == "pipeline_input" and b.source == name and b.rules
        ]
        for where, rules in checks:
            if problem := rule_problem(value, rules):
                found.append(SpecProblem(self.path, 0, where, f"{value!r} {problem}"))
        return found

    def missing_values(
        self, hint: str = "give it a default, or a value with --set {name}=..."
    ) -> list[SpecProblem]:
        """The required job inputs that would run without a value: refused at validate and at submit.
        ``hint`` says where the value goes, with the input's name for {name}."""
        found = []
        for job in self.jobs.values():
            for input_name, b in job.inputs.items():
                source = self.inputs.get(b.source) if b.kind == "pipeline_input" else None
                if b.required and source is not None and source.default is None and not source.optional:
                    message = (
                        f"job '{job.name}' needs a value for input '{input_name}', and pipeline input "
                        f"'{b.source}' has none: {hint.format(name=b.source)}"
                    )
                    found.append(SpecProblem(self.path, job.line, f"inputs.{b.source}", message))
        return found

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        # PostgreSQL's jsonb keeps no key order, and the file's order is the order of a run's steps and inputs.
        data["order"] = {key: list(getattr(self, key)) for key in ORDERED}
        return data

    @classmethod
    def from_dict(cls, data: dict) -> PipelineSpec:
        order = data.get("order") or {}
        data = {k: v for k, v in data.items() if k != "order"}
        for key in ORDERED:
            if key in order:
                data[key] = {name: data[key][name] for name in order[key]}

        def step(d: dict) -> StepSpec:
            return StepSpec(
                **{
                    **d,
                    "inputs": {k: Binding(**v) for k, v in d["inputs"].items()},
                    "outputs": {k: OutputSpec(**v) for k, v in d["outputs"].items()},
                }
            )

        return cls(
            **{
                **data,
                "inputs": {k: InputSpec(**v) for k, v in data["inputs"].items()},
                "outputs": {k: OutputSpec(**v) for k, v in data["outputs"].items()},
                "jobs": {k: step(v) for k, v in data["jobs"].items()},
                "edges": [EdgeSpec(**e) for e in data["edges"]],
            }
        )


def load_pipeline(
    path: str | os.PathLike, budget: yamlfile.Budget | None = None, config: EngineConfig | None = None
) -> PipelineSpec:
    """Load and check a pipeline file; SpecError lists every problem found.

    A file past one of backends.yamlfile's limits (its component files too) is refused alone, at once.
    ``budget`` is what a load that reads this file among others (a schedule's) has left to spend; ``config`` the
    engine's settings (its datastores, data assets and environments), the defaults when None.
    """
    from backends.local.jobfile import PipelineLoader

    loader = PipelineLoader(budget or yamlfile.Budget(), config or EngineConfig())
    spec = loader.pipeline(path)
    if loader.problems or spec is None:
        # The pipeline file's problems first, then each component file's, each in line order.
        raise SpecError(sorted_problems(loader.problems, os.fspath(path)))
    return spec


def parse_set_options(items: list[str]) -> dict[str, str]:
    """``["lr=0.1", "inputs.epochs=3"]`` -> ``{"lr": "0.1", "epochs": "3"}``."""
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().removeprefix("parent.").removeprefix("inputs.")
        if not sep or not re.fullmatch(NAME, name):
            raise ValueError(
                f"--set {item!r}: expected NAME=VALUE or inputs.NAME=VALUE, e.g. inputs.epochs=3"
            )
        values[name] = value
    return values


def _parameter(value: Any, spec: InputSpec, config: EngineConfig) -> Any:
    if value is None:
        if spec.optional:
            return None
        raise ValueError("a value is required")
    if spec.type not in PATH_TYPES:
        return coerce(value, spec.type)
    local = str(value).removeprefix("file:")
    if REMOTE.match(local):  # a URL, or an Azure ML reference: Unresolved (a ValueError) says why not
        location = datarefs.locate(local, spec.type, config)
        if not datarefs.is_url(location) and (problem := datarefs.local_problem(location, spec.type)):
            raise ValueError(f"{value!r} {problem}")
        return location
    # A path given at submit time is relative to where it was typed, not to the pipeline file.
    path = os.path.abspath(os.path.expanduser(local))
    if not os.path.exists(path):
        raise ValueError(f"path '{value}' does not exist on this machine")
    return path
