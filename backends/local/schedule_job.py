"""What a schedule runs: its ``create_job`` (a pipeline or command job file, or a mapping overriding one), read
for backends.local.schedule_spec. Pure Python."""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

from backends.local.checked import (
    PATH_TYPES,
    REMOTE,
    SpecError,
    line_of,
    plain,
    to_plain,
)
from backends.local.schedule_times import TriggerReading
from backends.local.spec import PipelineSpec, load_pipeline

CREATE_JOB_KEYS = (
    "type",
    "job",
    "settings",
    "inputs",
    "outputs",
    "tags",
    "experiment_name",
    "display_name",
    "description",
    "properties",
)
SETTINGS_KEYS = ("continue_on_step_failure", "force_rerun", "default_compute", "default_datastore")
EXPRESSIONS = ("name", "creation_context.trigger_time")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class CreateJobReading(TriggerReading):
    """Expects ``self.path`` (the schedule file's folder holds what it names), ``self.shown``, ``self.budget``
    and ``self.config``."""

    def create_job(self, doc: dict) -> tuple[PipelineSpec | None, str, bool | None]:
        """The pipeline with create_job's overrides applied, its experiment, and the step-failure override."""
        node, line = doc.get("create_job"), line_of(doc, "create_job")
        if node is None:
            self.problem(
                line_of(doc), "create_job", "missing: the pipeline to run, e.g. create_job: ./pipeline.yml"
            )
            return None, "", None
        if isinstance(node, dict):
            self.unknown_keys(node, CREATE_JOB_KEYS, "create_job.")
            if node.get("type", "pipeline") not in ("pipeline", "command"):
                message = (
                    f"job type {plain(node['type'])!r} cannot be scheduled by the local engine "
                    "(only pipeline and command jobs)"
                )
                self.problem(line_of(node, "type"), "create_job.type", message)
            if node.get("job") is None:
                self.problem(line, "create_job.job", "missing: the pipeline file, e.g. job: ./pipeline.yml")
                return None, "", None
            pipeline = self.pipeline(node.get("job"), line_of(node, "job"), "create_job.job")
        else:
            pipeline, node = self.pipeline(node, line, "create_job"), {}
        if pipeline is None:
            return None, "", None
        settings = self.mapping(node, "settings", "create_job.")
        self.unknown_keys(settings, SETTINGS_KEYS, "create_job.settings.")
        keep_going = self.boolean(settings, "continue_on_step_failure", "create_job.settings.", None)
        compute = self.text(settings, "default_compute", pipeline.default_compute, "create_job.settings.")
        experiment = self.text(node, "experiment_name", pipeline.experiment_name, "create_job.")
        pipeline = dataclasses.replace(
            pipeline,
            display_name=self.text(node, "display_name", pipeline.display_name, "create_job."),
            description=self.text(node, "description", pipeline.description, "create_job."),
            experiment_name=experiment,
            tags={**pipeline.tags, **self.tags(node, "create_job.")},
            continue_on_step_failure=pipeline.continue_on_step_failure if keep_going is None else keep_going,
            force_rerun=self.boolean(settings, "force_rerun", "create_job.settings.", pipeline.force_rerun),
            default_compute=compute,
            jobs={
                name: dataclasses.replace(step, compute=compute)
                if step.compute == pipeline.default_compute
                else step
                for name, step in pipeline.jobs.items()
            },
        )
        pipeline = self.input_overrides(pipeline, self.mapping(node, "inputs", "create_job."))
        # A value every run of the schedule would lack: the file to fix is the schedule.
        for problem in pipeline.missing_values("give it one under create_job.inputs.{name}"):
            self.problem(line, "create_job.inputs", problem.message)
        outputs = self.mapping(node, "outputs", "create_job.")
        # Where Azure ML would write them; the local engine keeps every output in its run folder.
        for name in outputs:
            if name not in pipeline.outputs:
                message = f"no such pipeline output ({', '.join(pipeline.outputs) or 'none'})"
                self.problem(line_of(outputs, name), f"create_job.outputs.{name}", message)
        return pipeline, experiment, keep_going

    def pipeline(self, ref: Any, line: int, where: str) -> PipelineSpec | None:
        if not isinstance(ref, str):
            self.problem(line, where, f"expected the path of a pipeline YAML file, got {plain(ref)!r}")
            return None
        local = ref.removeprefix("file:")
        if REMOTE.match(local):
            message = (
                f"{ref!r}: registered jobs cannot be scheduled by the local engine; "
                "point create_job at a pipeline YAML file"
            )
            self.problem(line, where, message)
            return None
        path = self.path.parent / local
        if not path.is_file():
            self.problem(line, where, f"pipeline file '{ref}' not found ({os.path.normpath(path)})")
            return None
        try:
            return load_pipeline(
                os.path.normpath(os.path.join(os.path.dirname(self.shown), local)), self.budget, self.config
            )
        except SpecError as error:
            self.problems.extend(error.problems)  # each names the pipeline file and its own line
            self.reported.add(where)
            return None

    def input_overrides(self, pipeline: PipelineSpec, inputs: dict) -> PipelineSpec:
        for name, raw in inputs.items():
            where, line = f"create_job.inputs.{name}", line_of(inputs, name)
            declared = pipeline.inputs.get(str(name))
            if declared is None:
                self.problem(line, where, f"no such pipeline input ({', '.join(pipeline.inputs) or 'none'})")
                continue
            value = raw
            if isinstance(raw, dict):  # {type: uri_file, path: ./x.csv} or {value: 3}
                key = next((k for k in ("path", "value", "default") if raw.get(k) is not None), None)
                if key is None:
                    self.problem(line, where, "expected a value, or a mapping with a path or a value")
                    continue
                value, line = raw[key], line_of(raw, key)
            value = to_plain(value)
            if isinstance(value, str) and "${{" in value:
                unknown = [e for e in EXPRESSION.findall(value) if e not in EXPRESSIONS]
                if unknown or len(EXPRESSION.findall(value)) != value.count("${{"):
                    shown = ", ".join(f"${{{{{e}}}}}" for e in EXPRESSIONS)
                    self.problem(line, where, f"{value!r}: a schedule may use only {shown}")
                else:
                    # Kept as written (spaces inside the braces dropped), unchecked: the engine fills it in
                    # when the schedule fires.
                    value = EXPRESSION.sub(lambda m: f"${{{{{m[1]}}}}}", value)
                    inputs_ = {**pipeline.inputs, str(name): dataclasses.replace(declared, default=value)}
                    pipeline = dataclasses.replace(pipeline, inputs=inputs_)
                continue
            if declared.type in PATH_TYPES and isinstance(value, str) and not REMOTE.match(value):
                # Relative to the schedule file, as every path in it is.
                value = os.path.normpath(self.path.parent / os.path.expanduser(value.removeprefix("file:")))
            try:
                pipeline = pipeline.with_parameters({str(name): value}, self.config)
            except SpecError as error:
                for problem in error.problems:
                    self.problem(line, where, problem.message)
        return pipeline
