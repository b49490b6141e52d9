"""Reading a pipeline file, and the component files its jobs use, into a PipelineSpec: every field checked,
every binding resolved, every problem reported at once with its file, line and field. Pure Python."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from backends import yamlfile
from backends.local.checked import (
    BAD,
    File,
    line_of,
    plain,
)
from backends.local.components import Component
from backends.local.config import EngineConfig
from backends.local.envspec import EnvironmentReading
from backends.local.jobs import JobReading
from backends.local.spec import EdgeSpec, PipelineSpec


class PipelineLoader(EnvironmentReading, JobReading):
    """Reads one job file and the component files it uses, collecting problems instead of stopping at one."""

    def __init__(self, budget: yamlfile.Budget, config: EngineConfig) -> None:
        super().__init__(budget)
        self.config = config
        self.components: dict[Path, Component | None] = {}
        self.loading: list[Path] = []  # the component files being read, outermost first
        self.bound: dict[str, str] = {}  # pipeline output -> the job (jobs.x) that writes it

    def pipeline(self, path: str | os.PathLike) -> PipelineSpec | None:
        """A job file, as ``az ml job create -f`` takes it: a pipeline job, or a command job run as a pipeline of
        its one step. Other job types are refused as not supported here, at their ``type`` line."""
        file = File.given(path)
        with self.reading(file) as (text, doc):
            if doc is BAD:
                return None
            if not isinstance(doc, dict):
                empty = "empty file: " if doc is None else ""
                self.problem(
                    line_of(doc), "(root)", f"{empty}expected a mapping of job fields (type, jobs or command)"
                )
                return None
            kind = doc.get("type")
            if kind is None:  # the CLI reads a file without type by what it holds
                kind = "pipeline" if "jobs" in doc else "command" if "command" in doc else None
            if kind == "pipeline" and "pipelineComponent" in str(doc.get("$schema", "")):
                # A pipeline component's file: checked as a job that uses it would read it.
                return dataclasses.replace(self.pipeline_spec(file, text, doc, typed=True), kind="component")
            if kind == "pipeline":
                return self.pipeline_spec(file, text, doc)
            if kind == "command":
                return self.command_job_spec(file, text, doc)
            if kind is None:
                self.problem(line_of(doc), "type", "missing: a job file says its type (pipeline or command)")
            else:
                message = (
                    f"job type {plain(kind)!r} is not supported by the local engine (it runs command and pipeline jobs;"
                    " submit this one to an Azure ML workspace with --backend)"
                )
                self.problem(line_of(doc, "type"), "type", message)
            return None

    def command_job_spec(self, file: File, text: str, doc: dict) -> PipelineSpec:
        """A command job: its inputs and outputs are declared with their values, as a pipeline's are, and its one
        step is bound to them, so --set, reuse, outputs and logs work as for a pipeline's steps."""
        name = self.text(doc, "name", "")
        node_name = next(
            (
                n
                for n in (name, Path(file.shown).stem.replace("-", "_"))
                if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)
            ),
            "command",
        )
        spec = PipelineSpec(
            path=str(file.path),
            text=text,
            name=name,
            display_name=self.text(doc, "display_name", ""),
            experiment_name=self.text(doc, "experiment_name", ""),
            description=self.text(doc, "description", ""),
            tags=self.tags(doc),
            inputs=self.inputs(doc, "", typed=False),
            outputs=self.outputs(doc, ""),
            continue_on_step_failure=False,
            force_rerun=False,
            default_compute=self.text(doc, "compute", ""),
            jobs={},
            kind="command",
        )
        node = doc.copy()  # keeps the lines of its fields
        node["inputs"] = {n: f"${{{{parent.inputs.{n}}}}}" for n in spec.inputs}
        node["outputs"] = {n: f"${{{{parent.outputs.{n}}}}}" for n in spec.outputs}
        node.pop("type", None)
        if "component" in node:
            self.problem(
                line_of(doc, "component"), "component", "a command job runs its own command, not a component"
            )
            node.pop("component")
        first = len(self.problems)
        job = self.job_head({node_name: node}, node_name, spec)
        if job is not None:
            spec.jobs[node_name] = self.job_body(job, {node_name: job}, spec)
        # The file is the job: its fields are named as written, not as a pipeline's jobs.<name>.<field>.
        prefix = f"jobs.{node_name}."
        self.problems[first:] = [
            p._replace(field=p.field.removeprefix(prefix)) for p in self.problems[first:]
        ]
        return spec

    def pipeline_spec(self, file: File, text: str, doc: dict, typed: bool = False) -> PipelineSpec:
        """A pipeline job, or (``typed``: its inputs declared as a component's are) a pipeline component."""
        outer_bound, self.bound = self.bound, {}
        try:
            return self._pipeline_spec(file, text, doc, typed)
        finally:
            self.bound = outer_bound

    def _pipeline_spec(self, file: File, text: str, doc: dict, typed: bool) -> PipelineSpec:
        settings = self.value(doc, "", "settings", "mapping", {})
        spec = PipelineSpec(
            path=str(file.path),
            text=text,
            name=self.value(doc, "", "name", "text", ""),
            display_name=self.value(doc, "", "display_name", "text", ""),
            experiment_name=self.value(doc, "", "experiment_name", "text", ""),
            description=self.value(doc, "", "description", "text", ""),
            tags={str(k): str(v) for k, v in self.value(doc, "", "tags", "mapping", {}).items()},
            inputs=self.inputs(doc, "", typed=typed),
            outputs=self.outputs(doc, ""),
            continue_on_step_failure=self.value(
                settings, "settings.", "continue_on_step_failure", "boolean", False
            ),
            force_rerun=self.value(settings, "settings.", "force_rerun", "boolean", False),
            default_compute=self.value(settings, "settings.", "default_compute", "text")
            or self.value(doc, "", "compute", "text", ""),
            jobs={},
        )
        jobs_node = self.value(doc, "", "jobs", "mapping", {})
        if not jobs_node:
            self.problem(
                line_of(doc, "jobs"), "jobs", "no jobs: a pipeline needs at least one job under jobs:"
            )
        # Every job's outputs are known before any binding is read, so a job may bind to one further down.
        jobs = {name: self.job_head(jobs_node, name, spec) for name in jobs_node}
        for job in jobs.values():
            if job is None:
                continue
            if job.component and job.component.pipeline:
                spec.jobs.update(self.group_steps(job, jobs, spec))
            else:
                spec.jobs[job.name] = self.job_body(job, jobs, spec)
        spec.edges = [
            EdgeSpec(b.source, b.output, step.name, name)
            for step in spec.jobs.values()
            for name, b in step.inputs.items()
            if b.kind == "step_output"
        ]
        self.check_cycles(spec)
        return spec

    def check_cycles(self, spec: PipelineSpec) -> None:
        upstream = {name: spec.upstream(name) for name in spec.jobs}
        order = list(spec.jobs).index
        stuck = set(spec.jobs)
        while freed := {n for n in stuck if not upstream[n] & stuck}:
            stuck -= freed
        reported: set[frozenset[str]] = set()
        for start in sorted(stuck, key=order):
            # Every stuck job has a stuck upstream job: walking upstream must come round to a job seen before.
            path = [start]
            while (step := min(upstream[path[-1]] & stuck, key=order)) not in path:
                path.append(step)
            cycle = path[path.index(step) :][::-1]
            if frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                first = cycle.index(min(cycle, key=order))
                cycle = cycle[first:] + cycle[:first]
                message = f"jobs form a cycle: {' -> '.join([*cycle, cycle[0]])}"
                self.problem(spec.jobs[cycle[0]].line, f"jobs.{cycle[0]}", message)
