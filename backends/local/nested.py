"""Pipeline components inside a pipeline, flattened: each job of the inner pipeline becomes a step of the run,
named ``<parent node>.<job>``, with its bindings rewritten to what the parent node was given. The run page folds
the steps of one parent node into a group (runs/graph/structure.py groups node ids by their prefix). Pure Python."""

from __future__ import annotations

import dataclasses

from backends.local.spec import Binding, OutputSpec, PipelineSpec, StepSpec

MAX_DEPTH = 8  # pipeline components inside pipeline components; a deeper file is refused
SEPARATOR = "."  # between a parent node's name and its jobs' names; never in a job's own name


def producer(inner: PipelineSpec, output: str) -> tuple[str, str] | None:
    """(job, output) of the inner pipeline that writes its pipeline output ``output``; None when none does."""
    for job in inner.jobs.values():
        for name, out in job.outputs.items():
            if out.pipeline_output == output:
                return job.name, name
    return None


def flatten(
    node: str,
    inner: PipelineSpec,
    given: dict[str, Binding],
    bound_outputs: dict[str, str | None],
    compute: str,
    line: int,
) -> dict[str, StepSpec]:
    """The inner pipeline's jobs as steps of the outer one.

    ``given`` is what the parent node binds to each of the inner pipeline's inputs (its defaults already filled
    in); ``bound_outputs`` the outer pipeline output each of its outputs is bound to, if any; ``compute`` the
    parent node's compute, for the jobs that name none; ``line`` the parent node's line in the outer file.
    """
    steps = {}
    for job in inner.jobs.values():
        inputs = {name: _rebound(node, b, given) for name, b in job.inputs.items()}
        outputs = {
            name: OutputSpec(
                name, out.type, bound_outputs.get(out.pipeline_output) if out.pipeline_output else None
            )
            for name, out in job.outputs.items()
        }
        full = f"{node}{SEPARATOR}{job.name}"
        steps[full] = dataclasses.replace(
            job,
            name=full,
            display_name=job.display_name or full,
            compute=job.compute if job.compute and job.compute != inner.default_compute else compute,
            inputs=inputs,
            outputs=outputs,
            line=line,
        )
    return steps


def _rebound(node: str, binding: Binding, given: dict[str, Binding]) -> Binding:
    if binding.kind == "step_output":
        return dataclasses.replace(binding, source=f"{node}{SEPARATOR}{binding.source}")
    if binding.kind != "pipeline_input":
        return dataclasses.replace(binding)
    outer = given.get(binding.source)
    if outer is None:  # a required input the parent node does not bind: reported as missing already
        return Binding("unset", binding.type)
    if outer.kind == "unset":  # an optional one it leaves without a value
        return Binding("unset", binding.type, required=binding.required)
    # The inner job's own type and needs; the value, or where it comes from, is the parent node's.
    return dataclasses.replace(
        outer,
        type=binding.type,
        required=binding.required,
        rules=binding.rules or outer.rules,
    )
