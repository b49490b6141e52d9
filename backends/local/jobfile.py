"""Reading a pipeline file, and the component files its jobs use, into a PipelineSpec: every field checked,
every binding resolved, every problem reported at once with its file, line and field. Pure Python."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends import yamlfile
from backends.bindings import INPUT_REF, OUTPUT_REF, STEP_REF, expressions, single_expression
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
)
from backends.local.config import EngineConfig
from backends.local.envspec import EnvironmentReading
from backends.local.spec import Binding, EdgeSpec, InputSpec, OutputSpec, PipelineSpec, StepSpec


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
        file = File.given(path)
        with self.reading(file) as (text, doc):
            if doc is BAD:
                return None
            if not isinstance(doc, dict):
                empty = "empty file: " if doc is None else ""
                self.problem(
                    line_of(doc), "(root)", f"{empty}expected a mapping of pipeline fields (type, jobs, ...)"
                )
                return None
            return self.pipeline_spec(file, text, doc)

    def pipeline_spec(self, file: File, text: str, doc: dict) -> PipelineSpec:
        if doc.get("type") != "pipeline":
            self.problem(line_of(doc, "type"), "type", f"expected 'type: pipeline', got {doc.get('type')!r}")
        settings = self.value(doc, "", "settings", "mapping", {})
        spec = PipelineSpec(
            path=str(file.path),
            text=text,
            name=self.value(doc, "", "name", "text", ""),
            display_name=self.value(doc, "", "display_name", "text", ""),
            experiment_name=self.value(doc, "", "experiment_name", "text", ""),
            description=self.value(doc, "", "description", "text", ""),
            tags={str(k): str(v) for k, v in self.value(doc, "", "tags", "mapping", {}).items()},
            inputs=self.inputs(doc, "", typed=False),
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
            if job is not None:
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
        return InputSpec(
            name=name,
            type=str(type_),
            default=None if default is BAD else default,
            # A bad default is reported here; optional spares each job using it a misleading "missing input".
            optional=default is BAD or self.value(decl, f"{where}.", "optional", "boolean", False),
            description=self.value(decl, f"{where}.", "description", "text", ""),
        )

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
        if not isinstance(raw, str) or REMOTE.match(local):
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

    def component(self, doc: Any, prefix: str, path: str | None) -> _Component | None:
        if not isinstance(doc, dict):
            empty = "empty file: " if doc is None else ""
            self.problem(
                line_of(doc), prefix.rstrip(".") or "(root)", f"{empty}expected a command component mapping"
            )
            return None
        if doc.get("type", "command") != "command":
            message = f"component type {doc['type']!r} is not supported by the local engine (only command)"
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
        if path not in self.components:
            self.components[path] = None  # read once however many jobs use it, so its problems show once
            shown = os.path.normpath(os.path.join(os.path.dirname(self.file.shown), local))
            with self.reading(File(shown, path)) as (_, doc):
                if doc is not BAD:
                    self.components[path] = self.component(doc, "", str(path))
        return self.components[path]

    def job_head(self, jobs: dict, name: str, spec: PipelineSpec) -> _Job | None:
        """The job's component and outputs; None when it cannot run (already reported)."""
        where, node = f"jobs.{name}", jobs[name]
        if not self.valid_name(jobs, name, where):
            return None
        if not isinstance(node, dict):
            self.problem(line_of(jobs, name), where, "expected a mapping with a command or a component")
            return None
        if node.get("type", "command") != "command":
            kind = node["type"]
            message = (
                f"job type {kind!r} is not supported by the local engine (only command jobs run locally)"
            )
            self.problem(line_of(node, "type"), f"{where}.type", message)
            return None
        component = None
        if node.get("component") is not None:
            if not (component := self.component_file(node, f"{where}.component")):
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

    def job_body(self, job: _Job, jobs: dict[str, _Job | None], spec: PipelineSpec) -> StepSpec:
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
            command, code = component.command, component.code
        else:
            command = self.command(node, f"{where}.", bindings, job.outputs, job.line)
            code = self.code(node, f"{where}.")
        limits = self.value(node, f"{where}.", "limits", "mapping", {})
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
        )

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
        if not (isinstance(value, str) and "${{" in value):
            type_ = wanted or python_type(value)
            literal = self.literal(line, where, type_, value)
            return None if literal is BAD else Binding("literal", str(type_), literal)
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
            return Binding("pipeline_input", wanted or source.type, source=match[1])
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
            return Binding("step_output", wanted or given, source=step, output=output)
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
