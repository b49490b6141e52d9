"""Reading a pipeline's jobs: what each runs (inline, or a command or pipeline component), its inputs bound to
pipeline inputs, literals or other jobs' outputs, its outputs, limits and distribution. Pure Python."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from backends.bindings import INPUT_REF, OUTPUT_REF, STEP_REF, single_expression
from backends.inputs import LITERAL_TYPES, rule_problem
from backends.local.checked import (
    BAD,
    PATH_TYPES,
    line_of,
    names,
    plain,
    python_type,
)
from backends.local.components import Component, ComponentReading, environment_name
from backends.local.nested import flatten, producer
from backends.local.rendering import optional_inputs
from backends.local.spec import Binding, InputSpec, OutputSpec, PipelineSpec, StepSpec

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
class Job:
    name: str
    node: dict
    line: int
    component: Component | None
    outputs: dict[str, OutputSpec]


class JobReading(ComponentReading):
    """Expects ``self.bound`` (pipeline output -> the job that writes it)."""

    def job_head(self, jobs: dict, name: str, spec: PipelineSpec) -> Job | None:
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
        return Job(name, node, line_of(jobs, name), component, self.job_outputs(node, where, component, spec))

    def job_outputs(
        self, node: dict, where: str, component: Component | None, spec: PipelineSpec
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
        self, job: Job, jobs: dict[str, Job | None], spec: PipelineSpec
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

    def group_steps(self, job: Job, jobs: dict[str, Job | None], spec: PipelineSpec) -> dict[str, StepSpec]:
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

    def job_body(self, job: Job, jobs: dict[str, Job | None], spec: PipelineSpec) -> StepSpec:
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
            environment=environment_name(node.get("environment"))
            or (component.environment if component else ""),
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
        self, job: Job, component: Component, bindings: dict, inputs: dict[str, Binding]
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
