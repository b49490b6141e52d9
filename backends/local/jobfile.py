"""Reading a pipeline file, and the component files its jobs use, into a PipelineSpec: every field checked,
every binding resolved, every problem reported at once with its file, line and field. Pure Python."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends import yamlfile
from backends.bindings import INPUT_REF, OUTPUT_REF, STEP_REF, expressions, single_expression
from backends.local import datarefs
from backends.local.checked import (
    BAD,
    LITERAL_TYPES,
    PATH_TYPES,
    REMOTE,
    CheckedLoader,
    File,
    coerce,
    line_of,
    names,
    plain,
    python_type,
    rule_problem,
)
from backends.local.config import EngineConfig
from backends.local.envspec import EnvironmentReading
from backends.local.nested import MAX_DEPTH, flatten, producer
from backends.local.rendering import optional_inputs
from backends.local.spec import Binding, EdgeSpec, InputSpec, OutputSpec, PipelineSpec, StepSpec

DISTRIBUTIONS = ("pytorch", "tensorflow", "mpi")
MAX_PROCESSES = 64  # of one step, across its instances


def _compatible(wanted: str, given: str) -> bool:
    return (
        wanted == given
        or (wanted == "number" and given == "integer")
        or (wanted == "string" and given in LITERAL_TYPES)
        or (wanted in PATH_TYPES and given in PATH_TYPES)
    )


@dataclass
class _Component:
    path: str | None
    name: str
    display_name: str
    command: str
    code: str | None
    environment: str
    environment_definition: dict | None
    is_deterministic: bool
    inputs: dict[str, InputSpec]
    outputs: dict[str, OutputSpec]
    pipeline: PipelineSpec | None = None  # a pipeline component's jobs; None for a command component


@dataclass
class _Job:
    name: str
    node: dict
    line: int
    component: _Component | None
    outputs: dict[str, OutputSpec]


class PipelineLoader(EnvironmentReading, CheckedLoader):
    """Reads one pipeline and the component files it uses, collecting problems instead of stopping at one."""

    def __init__(self, budget: yamlfile.Budget, config: EngineConfig) -> None:
        super().__init__(budget)
        self.config = config
        self.components: dict[Path, _Component | None] = {}
        self.loading: list[Path] = []  # the component files being read, outermost first
        self.bound: dict[str, str] = {}  # pipeline output -> the job (jobs.x) that writes it

    def value(self, node: dict, prefix: str, key: str, expected: str, default: Any = None) -> Any:
        """``node[key]`` when it is of the ``expected`` kind; absent or null gives ``default``."""
        read = {
            "text": lambda: self.text(node, key, default, prefix),
            "boolean": lambda: self.boolean(node, key, prefix, default),
            "mapping": lambda: self.mapping(node, key, prefix) or default,
            "seconds": lambda: self.seconds(node, key, prefix),
        }
        return read[expected]()

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

    def inputs(self, doc: dict, prefix: str, typed: bool) -> dict[str, InputSpec]:
        node = self.value(doc, prefix, "inputs", "mapping", {})
        specs = {}
        for name in node:
            where = f"{prefix}inputs.{name}"
            if self.valid_name(node, name, where) and (
                spec := self.input_declaration(node, name, where, typed)
            ):
                specs[name] = spec
        return specs

    def input_declaration(self, node: dict, name: str, where: str, typed: bool) -> InputSpec | None:
        decl = node[name]
        if not isinstance(decl, dict):
            # A pipeline input may be a bare literal (lr: 0.01); a component input is always declared.
            type_ = None if typed else python_type(decl)
            if type_ is None:
                self.problem(
                    line_of(node, name), where, "expected a mapping with a type, e.g. {type: string}"
                )
                return None
            return InputSpec(name, type_, plain(decl))
        datarefs.check_mode(self, decl, where)
        key = next((k for k in ("default", "value", "path") if decl.get(k) is not None), None)
        type_ = decl.get("type")
        if type_ is None and not typed:
            type_ = "uri_folder" if key == "path" else python_type(decl.get(key))
        if type_ not in LITERAL_TYPES + PATH_TYPES:
            problem = "missing type" if type_ is None else f"unknown type {type_!r}"
            message = f"{problem} (one of {names(LITERAL_TYPES + PATH_TYPES)})"
            self.problem(line_of(decl, "type"), f"{where}.type", message)
            return None
        default = (
            None if key is None else self.literal(line_of(decl, key), f"{where}.{key}", type_, decl[key])
        )
        spec = InputSpec(
            name=name,
            type=str(type_),
            default=None if default is BAD else default,
            # A bad default is reported here; optional spares each job using it a misleading "missing input".
            optional=default is BAD or self.value(decl, f"{where}.", "optional", "boolean", False),
            description=self.value(decl, f"{where}.", "description", "text", ""),
            **self.rules(decl, where, str(type_)),
        )
        if default not in (None, BAD) and (problem := rule_problem(default, spec.rules)):
            self.problem(line_of(decl, key), f"{where}.{key}", f"{default!r} {problem}")
        return spec

    def rules(self, decl: dict, where: str, type_: str) -> dict[str, Any]:
        """An input's ``enum`` (a string's values) and ``min``/``max`` (a number's bounds), as Azure ML reads them."""
        found: dict[str, Any] = {}
        if decl.get("enum") is not None:
            values = decl["enum"]
            if type_ != "string" or not isinstance(values, list) or not values:
                self.problem(
                    line_of(decl, "enum"), f"{where}.enum", "expected a list of values of a string input"
                )
            else:
                found["enum"] = [str(plain(v)) for v in values]
        for bound in ("min", "max"):
            if decl.get(bound) is None:
                continue
            value = plain(decl[bound])
            if (
                type_ not in ("integer", "number")
                or isinstance(value, bool)
                or not isinstance(value, int | float)
            ):
                self.problem(
                    line_of(decl, bound), f"{where}.{bound}", f"expected a number bounding a {type_} input"
                )
            else:
                found[bound] = value
        if "min" in found and "max" in found and found["min"] > found["max"]:
            self.problem(line_of(decl, "min"), f"{where}.min", f"is above max ({found['max']})")
        return found

    def literal(self, line: int, where: str, type_: str | None, raw: Any) -> Any:
        """``raw`` as a value of ``type_``: a typed Python value, or an absolute local path."""
        if type_ is None:
            self.problem(line, where, f"expected a value or a ${{{{...}}}} binding, got {plain(raw)!r}")
            return BAD
        if type_ not in PATH_TYPES:
            try:
                return coerce(raw, type_)
            except ValueError as error:
                self.problem(line, where, str(error))
                return BAD
        local = str(raw).removeprefix("file:")
        if isinstance(raw, str) and REMOTE.match(local):  # a URL, or an Azure ML reference to resolve
            location = datarefs.check_location(self, line, where, type_, local)
            return BAD if location is None else location
        if not isinstance(raw, str):
            self.problem(
                line, where, f"{plain(raw)!r} is not a local path; the local engine reads local files"
            )
            return BAD
        path = os.path.normpath(self.file.path.parent / local)
        other_kind = {"uri_file": os.path.isdir, "uri_folder": os.path.isfile}.get(type_)
        if not os.path.exists(path):
            self.problem(line, where, f"path '{raw}' does not exist ({path})")
        elif other_kind and other_kind(path):
            self.problem(line, where, f"path '{raw}' is not a {type_[4:]}, as a {type_} needs")
        return path

    def outputs(self, doc: dict, prefix: str) -> dict[str, OutputSpec]:
        node = self.value(doc, prefix, "outputs", "mapping", {})
        specs = {}
        for name, decl in node.items():
            where = f"{prefix}outputs.{name}"
            if not self.valid_name(node, name, where):
                continue
            if decl is not None and not isinstance(decl, dict):
                self.problem(line_of(node, name), where, "expected a mapping, e.g. {type: uri_folder}")
                continue
            specs[name] = OutputSpec(name, self.mapping_type(decl or {}, where) or "uri_folder")
        return specs

    def mapping_type(self, decl: dict, where: str) -> str | None:
        datarefs.check_mode(self, decl, where)
        type_ = decl.get("type")
        if type_ is not None and type_ not in PATH_TYPES + LITERAL_TYPES:
            self.problem(line_of(decl, "type"), f"{where}.type", f"unknown type {type_!r}")
            return None
        return type_ and str(type_)

    def command(self, node: dict, prefix: str, inputs: Any, outputs: Any, line: int) -> str:
        where = f"{prefix}command"
        command = self.value(node, prefix, "command", "text", "")
        if not command.strip():
            self.problem(line, where, "no command: a command job needs a command to run")
        line = line_of(node, "command")
        for raw, inner in expressions(command):
            kind, _, name = (inner or "").partition(".")
            declared = {"inputs": inputs, "outputs": outputs}.get(kind)
            if inner is None:
                self.problem(line, where, f"malformed expression {raw!r}")
            elif declared is None or "." in name:
                self.problem(
                    line,
                    where,
                    f"{raw} is not allowed in a command; use ${{{{inputs.x}}}} or ${{{{outputs.y}}}}",
                )
            elif name not in declared:
                self.problem(line, where, f"{raw}: no {kind[:-1]} '{name}' is declared ({names(declared)})")
        return command

    def code(self, node: dict, prefix: str) -> str | None:
        code = self.value(node, prefix, "code", "text")
        if code is None:
            return None
        local = code.removeprefix("file:")
        path = os.path.normpath(self.file.path.parent / local)
        if REMOTE.match(local) or not os.path.isdir(path):
            self.problem(
                line_of(node, "code"),
                f"{prefix}code",
                f"code folder '{code}' not found on this machine ({path})",
            )
        return path

    def component(self, doc: Any, prefix: str, path: str | None, text: str = "") -> _Component | None:
        if not isinstance(doc, dict):
            empty = "empty file: " if doc is None else ""
            self.problem(
                line_of(doc), prefix.rstrip(".") or "(root)", f"{empty}expected a command component mapping"
            )
            return None
        if doc.get("type") == "pipeline":
            return self.pipeline_component(doc, prefix, path, text)
        if doc.get("type", "command") != "command":
            message = f"component type {doc['type']!r} is not supported by the local engine (only command and pipeline)"
            self.problem(line_of(doc, "type"), f"{prefix}type", message)
            return None
        inputs, outputs = self.inputs(doc, prefix, typed=True), self.outputs(doc, prefix)
        name = self.value(doc, prefix, "name", "text", "")
        return _Component(
            path=path,
            name=name or (Path(path).stem if path else ""),
            display_name=self.value(doc, prefix, "display_name", "text", ""),
            # Checked against the names declared, so a declaration with a problem is not reported twice.
            command=self.command(
                doc, prefix, _mapping(doc.get("inputs")), _mapping(doc.get("outputs")), line_of(doc)
            ),
            code=self.code(doc, prefix),
            environment=_environment(doc.get("environment")),
            environment_definition=self.environment_definition(doc, prefix),
            is_deterministic=self.value(doc, prefix, "is_deterministic", "boolean", True),
            inputs=inputs,
            outputs=outputs,
        )

    def pipeline_component(self, doc: dict, prefix: str, path: str | None, text: str) -> _Component:
        """A ``type: pipeline`` component: inputs declared with types and defaults, and jobs of its own."""
        first = len(self.problems)
        inner = self.pipeline_spec(File(self.file.shown, self.file.path), text, doc, typed=True)
        if prefix:  # an inline component: its problems are at its place in the outer file
            self.problems[first:] = [p._replace(field=prefix + p.field) for p in self.problems[first:]]
        for name in inner.outputs:
            if producer(inner, name) is None:
                self.problem(line_of(doc.get("outputs"), name), f"{prefix}outputs.{name}", "no job writes it")
        return _Component(
            path=path,
            name=inner.name or (Path(path).stem if path else ""),
            display_name=inner.display_name,
            command="",
            code=None,
            environment="",
            environment_definition=None,
            is_deterministic=True,
            inputs=inner.inputs,
            outputs=inner.outputs,
            pipeline=inner,
        )

    def component_file(self, job: dict, where: str) -> _Component | None:
        ref = job["component"]
        if isinstance(ref, dict):
            return self.component(ref, f"{where}.", None)
        local = str(ref).removeprefix("file:")
        if REMOTE.match(local):
            message = (
                f"{ref!r}: registered components cannot run in the local engine; use a local component file"
            )
            self.problem(line_of(job, "component"), where, message)
            return None
        path = Path(os.path.normpath(self.file.path.parent / local))
        if not path.is_file():
            self.problem(line_of(job, "component"), where, f"component file '{ref}' not found ({path})")
            return None
        if path in self.loading:
            chain = " -> ".join(p.name for p in [*self.loading[self.loading.index(path) :], path])
            self.problem(line_of(job, "component"), where, f"pipeline components include each other: {chain}")
            return None
        if len(self.loading) >= MAX_DEPTH:
            message = f"pipeline components nested deeper than {MAX_DEPTH}; the local engine stops there"
            self.problem(line_of(job, "component"), where, message)
            return None
        if path not in self.components:
            self.components[path] = None  # read once however many jobs use it, so its problems show once
            shown = os.path.normpath(os.path.join(os.path.dirname(self.file.shown), local))
            self.loading.append(path)
            try:
                with self.reading(File(shown, path)) as (text, doc):
                    if doc is not BAD:
                        self.components[path] = self.component(doc, "", str(path), text)
            finally:
                self.loading.pop()
        return self.components[path]

    def job_head(self, jobs: dict, name: str, spec: PipelineSpec) -> _Job | None:
        """The job's component and outputs; None when it cannot run (already reported)."""
        where, node = f"jobs.{name}", jobs[name]
        if not self.valid_name(jobs, name, where):
            return None
        if not isinstance(node, dict):
            self.problem(line_of(jobs, name), where, "expected a mapping with a command or a component")
            return None
        kind = node.get("type", "command")
        if kind not in ("command", "pipeline"):
            message = (
                f"job type {kind!r} is not supported by the local engine (only command and pipeline jobs)"
            )
            self.problem(line_of(node, "type"), f"{where}.type", message)
            return None
        if kind == "pipeline" and node.get("component") is None:
            message = "a pipeline job inside a pipeline runs a pipeline component: component: ./pipeline.yml"
            self.problem(line_of(jobs, name), f"{where}.component", message)
            return None
        component = None
        if node.get("component") is not None:
            if not (component := self.component_file(node, f"{where}.component")):
                return None
            if "type" in node and (kind == "pipeline") != (component.pipeline is not None):
                what = "pipeline" if component.pipeline else "command"
                message = f"a {kind} job cannot run a {what} component (its type: {what})"
                self.problem(line_of(node, "type"), f"{where}.type", message)
                return None
            for key in ("command", "code"):
                if key in node:
                    message = f"a job that uses a component cannot set its own {key}; change the component"
                    self.problem(line_of(node, key), f"{where}.{key}", message)
        return _Job(
            name, node, line_of(jobs, name), component, self.job_outputs(node, where, component, spec)
        )

    def job_outputs(
        self, node: dict, where: str, component: _Component | None, spec: PipelineSpec
    ) -> dict[str, OutputSpec]:
        outputs = {n: dataclasses.replace(o) for n, o in (component.outputs if component else {}).items()}
        bindings = self.value(node, f"{where}.", "outputs", "mapping", {})
        for name, value in bindings.items():
            field_, line = f"{where}.outputs.{name}", line_of(bindings, name)
            if component and name not in outputs:
                message = f"component '{component.name}' has no output '{name}' ({names(outputs)})"
                self.problem(line, field_, message)
            elif component or self.valid_name(bindings, name, field_):
                out = outputs.setdefault(name, OutputSpec(name))
                if isinstance(value, dict):
                    out.type = self.mapping_type(value, field_) or out.type
                elif isinstance(value, str):
                    if target := self.pipeline_output(line, field_, value, spec):
                        out.pipeline_output = target
                        self.bound[target] = where
                        if not component:  # an inline job's output takes its type from the pipeline output
                            out.type = spec.outputs[target].type
                elif value is not None:
                    self.problem(
                        line, field_, "expected ${{parent.outputs.x}} or a mapping like {type: uri_folder}"
                    )
        return outputs

    def pipeline_output(self, line: int, where: str, value: str, spec: PipelineSpec) -> str | None:
        try:
            match = OUTPUT_REF.fullmatch(single_expression(value))
        except ValueError as error:
            self.problem(line, where, str(error))
            return None
        if match is None:
            self.problem(line, where, f"{value!r} is not an output binding; use ${{{{parent.outputs.x}}}}")
        elif match[1] not in spec.outputs:
            self.problem(line, where, f"no pipeline output '{match[1]}' ({names(spec.outputs)})")
        elif match[1] in self.bound:
            self.problem(
                line, where, f"pipeline output '{match[1]}' is already bound by {self.bound[match[1]]}"
            )
        else:
            return match[1]
        return None

    def job_inputs(
        self, job: _Job, jobs: dict[str, _Job | None], spec: PipelineSpec
    ) -> tuple[dict, dict[str, Binding]]:
        """The job's ``inputs`` mapping as written, and each input's binding (a component's defaults filled in)."""
        where, node, component = f"jobs.{job.name}", job.node, job.component
        bindings = self.value(node, f"{where}.", "inputs", "mapping", {})
        inputs: dict[str, Binding] = {}
        for name, value in bindings.items():
            field_, line = f"{where}.inputs.{name}", line_of(bindings, name)
            declared = component.inputs.get(name) if component else None
            if component and declared is None:
                message = f"component '{component.name}' has no input '{name}' ({names(component.inputs)})"
                self.problem(line, field_, message)
            elif value is None and not component:
                self.problem(line, field_, "no value given")
            elif value is not None and (component or self.valid_name(bindings, name, field_)):
                if binding := self.binding(value, line, field_, declared, jobs, spec):
                    inputs[name] = binding
        if component:
            inputs = self.unbound_inputs(job, component, bindings, inputs)
        return bindings, inputs

    def group_steps(self, job: _Job, jobs: dict[str, _Job | None], spec: PipelineSpec) -> dict[str, StepSpec]:
        """A job running a pipeline component: the component's jobs, as steps named ``<job>.<inner job>``."""
        where, inner = f"jobs.{job.name}", job.component.pipeline
        for key in ("command", "code", "environment", "distribution", "resources", "limits"):
            if key in job.node:
                message = (
                    f"a job running a pipeline component cannot set {key}; set it on the component's jobs"
                )
                self.problem(line_of(job.node, key), f"{where}.{key}", message)
        _, given = self.job_inputs(job, jobs, spec)
        bound = {name: out.pipeline_output for name, out in job.outputs.items()}
        compute = self.value(job.node, f"{where}.", "compute", "text", "") or spec.default_compute
        steps = flatten(job.name, inner, given, bound, compute, job.line)
        for step in steps.values():
            for name, b in step.inputs.items():
                if b.kind == "unset" and b.required:
                    message = (
                        f"job '{step.name}' needs a value for input '{name}', and '{job.name}' gives none "
                        "to the input it is bound to"
                    )
                    self.problem(job.line, f"{where}.inputs", message)
        return steps

    def job_body(self, job: _Job, jobs: dict[str, _Job | None], spec: PipelineSpec) -> StepSpec:
        where, node, component = f"jobs.{job.name}", job.node, job.component
        bindings, inputs = self.job_inputs(job, jobs, spec)
        if component:
            command, code = component.command, component.code
        else:
            command = self.command(node, f"{where}.", bindings, job.outputs, job.line)
            code = self.code(node, f"{where}.")
            optional = optional_inputs(command)
            for name, binding in inputs.items():
                binding.required = name not in optional
        limits = self.value(node, f"{where}.", "limits", "mapping", {})
        distribution, instances = self.distribution(node, f"{where}.")
        variables = self.value(node, f"{where}.", "environment_variables", "mapping", {})
        return StepSpec(
            name=job.name,
            display_name=self.value(node, f"{where}.", "display_name", "text", "")
            or (component.display_name if component else ""),
            type="command",
            command=command,
            code=code,
            environment=_environment(node.get("environment")) or (component.environment if component else ""),
            environment_definition=self.environment_definition(node, f"{where}.")
            or (component.environment_definition if component else None),
            compute=self.value(node, f"{where}.", "compute", "text", "") or spec.default_compute,
            environment_variables={str(k): str(plain(v)) for k, v in variables.items()},
            inputs=inputs,
            outputs=job.outputs,
            timeout=self.value(limits, f"{where}.limits.", "timeout", "seconds"),
            is_deterministic=self.value(
                node,
                f"{where}.",
                "is_deterministic",
                "boolean",
                component.is_deterministic if component else True,
            ),
            component=component.path if component else None,
            line=job.line,
            distribution=distribution,
            instance_count=instances,
        )

    def distribution(self, node: dict, prefix: str) -> tuple[dict[str, Any] | None, int]:
        """``distribution`` and ``resources.instance_count``: how many processes a step starts, and how."""
        resources = self.mapping(node, "resources", prefix)
        instances = self.integer(resources, "instance_count", f"{prefix}resources.", 1) or 1
        if instances < 1 or instances > MAX_PROCESSES:
            self.problem(
                line_of(resources, "instance_count"),
                f"{prefix}resources.instance_count",
                f"expected 1 to {MAX_PROCESSES}",
            )
            instances = 1
        node_ = self.mapping(node, "distribution", prefix)
        if not node_:
            if instances > 1:
                message = (
                    "instance_count above 1 needs a distribution (pytorch, tensorflow or mpi) to start them"
                )
                self.problem(
                    line_of(resources, "instance_count"), f"{prefix}resources.instance_count", message
                )
            return None, 1
        kind = self.text(node_, "type", "", f"{prefix}distribution.").lower()
        if kind not in DISTRIBUTIONS:
            message = (
                f"expected one of {', '.join(DISTRIBUTIONS)} (the local engine starts their processes itself)"
            )
            self.problem(line_of(node_, "type"), f"{prefix}distribution.type", message)
            return None, 1
        where = f"{prefix}distribution."
        key = (
            "worker_count"
            if kind == "tensorflow" and "worker_count" in node_
            else "process_count_per_instance"
        )
        per_instance = self.integer(node_, key, where, 1) or 1
        servers = (
            (self.integer(node_, "parameter_server_count", where, 0) or 0) if kind == "tensorflow" else 0
        )
        total = per_instance * instances + servers
        if per_instance < 1 or servers < 0 or total > MAX_PROCESSES:
            message = f"{total} processes: the local engine starts 1 to {MAX_PROCESSES} for a step"
            self.problem(line_of(node_, key), f"{where}{key}", message)
            per_instance, servers = 1, 0
        found = {"type": kind, "processes_per_instance": per_instance}
        return (found | {"parameter_servers": servers} if servers else found), instances

    def unbound_inputs(
        self, job: _Job, component: _Component, bindings: dict, inputs: dict[str, Binding]
    ) -> dict[str, Binding]:
        """``inputs`` with the component's defaults filled in, in the component's order."""
        for name, declared in component.inputs.items():
            if bindings.get(name) is not None:
                continue  # bound, or its problem is already reported
            if declared.default is not None:
                inputs[name] = Binding("literal", declared.type, declared.default)
            elif declared.optional:
                inputs[name] = Binding("unset", declared.type)
            else:
                line = line_of(job.node, "inputs") if "inputs" in job.node else job.line
                message = f"missing required input '{name}' (component '{component.name}' gives no default)"
                self.problem(line, f"jobs.{job.name}.inputs.{name}", message)
        return {name: inputs[name] for name in component.inputs if name in inputs}

    def binding(
        self, value: Any, line: int, where: str, declared: InputSpec | None, jobs: dict, spec: PipelineSpec
    ) -> Binding | None:
        wanted = declared.type if declared else None
        if isinstance(value, dict):  # {type: uri_folder, path: ..., mode: ...} or {type: integer, value: 3}
            given = self.mapping_type(value, where)
            key = next((k for k in ("path", "value", "default") if value.get(k) is not None), None)
            if key is None:
                self.problem(line, where, "expected a path or a value, e.g. {type: uri_folder, path: ./data}")
                return None
            wanted = wanted or given or ("uri_folder" if key == "path" else None)
            value, line, where = value[key], line_of(value, key), f"{where}.{key}"
        rules = declared.rules if declared else None
        required = bool(declared and declared.default is None and not declared.optional)
        if not (isinstance(value, str) and "${{" in value):
            type_ = wanted or python_type(value)
            literal = self.literal(line, where, type_, value)
            if literal is BAD:
                return None
            if problem := rule_problem(literal, rules):
                self.problem(line, where, f"{literal!r} {problem}")
            return Binding("literal", str(type_), literal)
        try:
            inner = single_expression(value)
        except ValueError as error:
            self.problem(line, where, str(error))
            return None
        if match := INPUT_REF.fullmatch(inner):
            if (source := spec.inputs.get(match[1])) is None:
                self.problem(line, where, f"no pipeline input '{match[1]}' ({names(spec.inputs)})")
                return None
            self.check_type(line, where, wanted, source.type, f"pipeline input '{match[1]}'")
            if problem := rule_problem(source.default, rules):
                self.problem(
                    line, where, f"pipeline input '{match[1]}' is {source.default!r}, which {problem}"
                )
            return Binding(
                "pipeline_input", wanted or source.type, source=match[1], required=required, rules=rules
            )
        if match := STEP_REF.fullmatch(inner):
            step, output = match[1], match[2]
            if step not in jobs:
                self.problem(line, where, f"no job '{step}' ({names(jobs)})")
                return None
            if (upstream := jobs[step]) is None:  # a job that cannot run; its own problem says why
                return Binding("step_output", wanted or "uri_folder", source=step, output=output)
            if output not in upstream.outputs:
                self.problem(
                    line, where, f"job '{step}' has no output '{output}' ({names(upstream.outputs)})"
                )
                return None
            given = upstream.outputs[output].type
            self.check_type(line, where, wanted, given, f"output '{output}' of job '{step}'")
            if upstream.component and upstream.component.pipeline:  # read from the inner job that writes it
                writer = producer(upstream.component.pipeline, output)
                if writer is None:
                    self.problem(line, where, f"no job of '{step}' writes its output '{output}'")
                    return None
                step, output = f"{step}.{writer[0]}", writer[1]
            return Binding("step_output", wanted or given, source=step, output=output, required=required)
        usage = "use ${{parent.inputs.x}} or ${{parent.jobs.a.outputs.b}}"
        message = f"{value!r} is not an input binding; {usage}"
        self.problem(line, where, message)
        return None

    def check_type(self, line: int, where: str, wanted: str | None, given: str, what: str) -> None:
        if wanted and not _compatible(wanted, given):
            self.problem(line, where, f"expects {wanted} but {what} is {given}")

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


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _environment(value: Any) -> str:
    if isinstance(value, dict):  # an inline environment definition: its image names it best
        return str(value.get("image") or value.get("name") or "")
    return "" if value is None else str(value)
