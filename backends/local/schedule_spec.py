"""Load and check schedule YAML for the local engine.

Two forms, told apart by their keys, both read unchanged:

- Azure ML CLI v2 schedules (``az ml schedule create --file``): ``name``, ``display_name``, ``description``,
  ``tags``, ``is_enabled``, a ``trigger`` of type cron or recurrence, and ``create_job``: a pipeline file, or
  ``{type: pipeline, job: file, settings, inputs, outputs, tags, experiment_name, display_name}`` overriding it.
- The v1 SDK's ``Schedule.create(ws, name, pipeline_id, experiment_name, recurrence=ScheduleRecurrence(...))``
  written as YAML with the SDK's argument names, and its change-based form, whose ``datastore`` is a local
  folder standing in for the datastore.

Like backends.local.spec, every problem is reported at once as file:line: field: message, and triggers come out
in the normalized form of backends.triggers. Pure Python (no Django).
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backends import triggers, yamlfile
from backends.local.checked import (
    BAD,
    PATH_TYPES,
    REMOTE,
    CheckedLoader,
    File,
    SpecError,
    line_of,
    plain,
    sorted_problems,
    to_plain,
)
from backends.local.config import EngineConfig
from backends.local.spec import PipelineSpec, load_pipeline

V2_KEYS = (
    "$schema",
    "name",
    "display_name",
    "description",
    "tags",
    "properties",
    "is_enabled",
    "trigger",
    "create_job",
)
# Schedule.create's arguments, less the workspace and the SDK's private ones.
V1_KEYS = (
    "name",
    "description",
    "pipeline_id",
    "experiment_name",
    "recurrence",
    "pipeline_parameters",
    "wait_for_provisioning",
    "wait_timeout",
    "datastore",
    "polling_interval",
    "data_path_parameter_name",
    "continue_on_step_failure",
    "path_on_datastore",
    "status",
)
V2_MARKS, V1_MARKS = ("trigger", "create_job"), ("pipeline_id", "recurrence", "datastore")
CRON_KEYS = ("type", "expression", "start_time", "end_time", "time_zone")
RECURRENCE_KEYS = ("type", "frequency", "interval", "schedule", "start_time", "end_time", "time_zone")
SCHEDULE_RECURRENCE_KEYS = (
    "frequency",
    "interval",
    "start_time",
    "time_zone",
    "hours",
    "minutes",
    "week_days",
    "time_of_day",
)
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
STATUSES = ("Active", "Disabled")
# The expressions Azure ML fills in when a schedule fires; the engine substitutes them (see run_parameters).
EXPRESSIONS = ("name", "creation_context.trigger_time")
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_SCHEDULE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})")


@dataclass
class ScheduleSpec:
    path: str
    text: str
    name: str
    display_name: str
    description: str
    tags: dict[str, str]
    form: str  # "v2" (CLI v2 schedule YAML) or "v1" (the v1 Schedule.create form)
    trigger: dict  # normalized, see backends.triggers
    enabled: bool
    pipeline: PipelineSpec | None  # v2: the create_job pipeline with its overrides applied
    published: str  # v1: the published pipeline it runs (pipeline_id); "" for v2
    parameters: dict[str, Any] = field(default_factory=dict)  # v1 pipeline_parameters, applied when it fires
    experiment_name: str = ""
    continue_on_step_failure: bool | None = None
    data_path_parameter_name: str = ""  # change-based: the parameter that gets the changed file's path

    def run_parameters(self, trigger_time: datetime, job_name: str, changed_path: str | None = None) -> dict:
        """The parameter values a fire passes to its run: schedule expressions filled in, the changed file added."""
        stamp = trigger_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        values = {"name": job_name, "creation_context.trigger_time": stamp}

        def fill(value: Any) -> Any:
            if not isinstance(value, str):
                return value
            return _EXPRESSION.sub(lambda m: values.get(m[1], m[0]), value)

        # v2 keeps them in the pipeline's inputs, as create_job wrote them; v1 in pipeline_parameters.
        written = {n: i.default for n, i in self.pipeline.inputs.items()} if self.pipeline else {}
        written = {n: v for n, v in written.items() if isinstance(v, str) and "${{" in v}
        parameters = {name: fill(value) for name, value in {**written, **self.parameters}.items()}
        if changed_path is not None and self.data_path_parameter_name:
            parameters[self.data_path_parameter_name] = changed_path
        return parameters

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["pipeline"] = self.pipeline.to_dict() if self.pipeline else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ScheduleSpec:
        pipeline = data.get("pipeline")
        return cls(**{**data, "pipeline": PipelineSpec.from_dict(pipeline) if pipeline else None})


def load_schedule(path: str | os.PathLike, now: datetime, config: EngineConfig | None = None) -> ScheduleSpec:
    """Load and check a schedule file and its pipeline; SpecError lists every problem found.

    A file past one of backends.yamlfile's limits is refused at once; the schedule and its pipeline share one
    budget.

    ``now`` (aware) stands in for a missing start_time, as Azure ML takes the time the schedule is created.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    loader = _Loader(path, now, config or EngineConfig())
    spec = loader.load()
    if loader.problems or spec is None:
        # The schedule file's problems first, then its pipeline's, each in line order.
        raise SpecError(sorted_problems(loader.problems, loader.shown))
    return spec


class _Loader(CheckedLoader):
    """Reads one schedule file (and the pipeline it runs), collecting problems instead of stopping at one."""

    def __init__(self, path: str | os.PathLike, now: datetime, config: EngineConfig) -> None:
        super().__init__()
        self.config = config
        self.file = File.given(path)
        self.shown, self.path = self.file
        self.now = now

    def load(self) -> ScheduleSpec | None:
        try:
            text = yamlfile.read_text(self.path, self.shown, self.budget)
            doc = self.parse(text)
        except yamlfile.YamlRefused as refused:
            raise SpecError.refusing(refused) from None
        if doc is BAD:
            return None
        if doc is None:
            self.problem(1, "(root)", "empty file: expected a schedule (name, trigger, create_job)")
            return None
        if not isinstance(doc, dict):
            self.problem(
                line_of(doc), "(root)", "expected a mapping of schedule fields (name, trigger, create_job)"
            )
            return None
        v2, v1 = [k for k in V2_MARKS if k in doc], [k for k in V1_MARKS if k in doc]
        if v2 and v1:
            message = (
                f"mixes the CLI v2 form ({', '.join(v2)}) with the v1 Schedule.create form ({', '.join(v1)});"
                " use one"
            )
            self.problem(line_of(doc, v1[0]), v1[0], message)
            return None
        if not v2 and not v1:
            message = "neither a CLI v2 schedule (trigger, create_job) nor a v1 one (pipeline_id, recurrence or datastore)"
            self.problem(line_of(doc), "(root)", message)
            return None
        return self.v2(doc, text) if v2 else self.v1(doc, text)

    # --- the CLI v2 form ---------------------------------------------------------------------------------------

    def v2(self, doc: dict, text: str) -> ScheduleSpec | None:
        self.unknown_keys(doc, V2_KEYS, "")
        name = self.name(doc)
        display_name, description = self.text(doc, "display_name", ""), self.text(doc, "description", "")
        tags, enabled = self.tags(doc, ""), self.boolean(doc, "is_enabled", "", True)
        trigger = self.v2_trigger(doc)
        pipeline, experiment, keep_going = self.create_job(doc)
        if self.problems or trigger is None or pipeline is None:
            return None
        return ScheduleSpec(
            path=str(self.path),
            text=text,
            name=name,
            display_name=display_name,
            description=description,
            tags=tags,
            form="v2",
            trigger=trigger,
            enabled=bool(enabled),
            pipeline=pipeline,
            published="",
            parameters={},
            experiment_name=experiment,
            continue_on_step_failure=keep_going,
        )

    def v2_trigger(self, doc: dict) -> dict | None:
        node = doc.get("trigger")
        if not isinstance(node, dict):
            message = (
                "missing: a cron or recurrence trigger"
                if node is None
                else f"expected a cron or recurrence trigger, got {to_plain(node)!r}"
            )
            self.problem(line_of(doc, "trigger"), "trigger", message)
            return None
        kind = node.get("type")
        if kind not in ("cron", "recurrence"):
            what = "missing type" if kind is None else f"unknown trigger type {plain(kind)!r}"
            line = line_of(node, "type") if "type" in node else line_of(doc, "trigger")
            self.problem(line, "trigger.type", f"{what} (cron or recurrence)")
            return None
        self.unknown_keys(node, CRON_KEYS if kind == "cron" else RECURRENCE_KEYS, "trigger.")
        trigger: dict[str, Any] = {"type": kind}
        places = {key: (f"trigger.{key}", line_of(node, key)) for key in node}
        if kind == "cron":
            trigger["expression"] = self.text(node, "expression", None, "trigger.")
            if trigger["expression"] is None:
                self.problem(
                    line_of(doc, "trigger"),
                    "trigger.expression",
                    "missing: a cron expression, e.g. '0 4 * * *'",
                )
        else:
            trigger["frequency"] = self.frequency(node, "trigger.", line_of(doc, "trigger"))
            trigger["interval"] = self.interval(node, "trigger.", line_of(doc, "trigger"))
            trigger["schedule"] = self.v2_pattern(node, places)
        self.zone_and_times(trigger, node, "trigger.", with_end=True)
        self.check_trigger(trigger, places, line_of(doc, "trigger"), "trigger")
        return trigger

    def v2_pattern(self, node: dict, places: dict) -> dict[str, list]:
        pattern = {key: [] for key in triggers.SCHEDULE_KEYS}
        schedule = node.get("schedule")
        if schedule is None:
            return pattern
        if not isinstance(schedule, dict):
            self.problem(
                line_of(node, "schedule"), "trigger.schedule", "expected a mapping of hours and minutes"
            )
            return pattern
        self.unknown_keys(schedule, triggers.SCHEDULE_KEYS, "trigger.schedule.")
        for key in schedule:
            places[f"schedule.{key}"] = (f"trigger.schedule.{key}", line_of(schedule, key))
        for key in ("hours", "minutes"):  # Azure ML requires both in a pattern
            if schedule.get(key) is None:
                message = f"missing: a pattern needs both hours and minutes, e.g. {key}: [0]"
                self.problem(line_of(node, "schedule"), f"trigger.schedule.{key}", message)
        pattern.update(self.pattern_lists(schedule, "trigger.schedule."))
        return pattern

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
                unknown = [e for e in _EXPRESSION.findall(value) if e not in EXPRESSIONS]
                if unknown or len(_EXPRESSION.findall(value)) != value.count("${{"):
                    shown = ", ".join(f"${{{{{e}}}}}" for e in EXPRESSIONS)
                    self.problem(line, where, f"{value!r}: a schedule may use only {shown}")
                else:
                    # Kept as written (spaces inside the braces dropped), unchecked: the engine fills it in
                    # when the schedule fires.
                    value = _EXPRESSION.sub(lambda m: f"${{{{{m[1]}}}}}", value)
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

    # --- the v1 Schedule.create form ----------------------------------------------------------------------------

    def v1(self, doc: dict, text: str) -> ScheduleSpec | None:
        self.unknown_keys(doc, V1_KEYS, "")
        name = self.name(doc)
        published = self.text(doc, "pipeline_id", "")
        if not published:
            self.problem(
                line_of(doc, "pipeline_id"), "pipeline_id", "missing: the published pipeline's name or id"
            )
        experiment = self.text(doc, "experiment_name", "")
        if not experiment:
            self.problem(
                line_of(doc, "experiment_name"), "experiment_name", "missing: the experiment to run in"
            )
        status = self.text(doc, "status", "Active")
        if status.title() not in STATUSES:
            self.problem(line_of(doc, "status"), "status", f"expected Active or Disabled, got {status!r}")
        self.boolean(doc, "wait_for_provisioning", "", False)
        self.integer(doc, "wait_timeout", "")
        if "recurrence" in doc and "datastore" in doc:
            self.problem(
                line_of(doc, "datastore"), "datastore", "a schedule has a recurrence or a datastore, not both"
            )
            trigger = None
        elif "recurrence" in doc:
            trigger = self.v1_recurrence(doc)
            for key in ("polling_interval", "path_on_datastore", "data_path_parameter_name"):
                if key in doc:
                    self.problem(
                        line_of(doc, key), key, "applies only to a change-based schedule (with datastore)"
                    )
        elif "datastore" in doc:
            trigger = self.v1_change(doc)
        else:
            message = "missing: a recurrence (ScheduleRecurrence fields) or a datastore (a folder to watch)"
            self.problem(line_of(doc), "recurrence", message)
            trigger = None
        parameters = self.mapping(doc, "pipeline_parameters", "")
        description = self.text(doc, "description", "")
        keep_going = self.boolean(doc, "continue_on_step_failure", "", None)
        data_path_parameter = self.text(doc, "data_path_parameter_name", "")
        if self.problems or trigger is None:
            return None
        return ScheduleSpec(
            path=str(self.path),
            text=text,
            name=name,
            display_name="",
            description=description,
            tags={},
            form="v1",
            trigger=trigger,
            enabled=status.title() != "Disabled",
            pipeline=None,
            published=published,
            parameters={str(k): to_plain(v) for k, v in parameters.items()},
            experiment_name=experiment,
            continue_on_step_failure=keep_going,
            data_path_parameter_name=data_path_parameter,
        )

    def v1_recurrence(self, doc: dict) -> dict | None:
        node = doc["recurrence"]
        if not isinstance(node, dict):
            self.problem(
                line_of(doc, "recurrence"), "recurrence", "expected a mapping: frequency, interval, ..."
            )
            return None
        self.unknown_keys(node, SCHEDULE_RECURRENCE_KEYS, "recurrence.")
        line = line_of(doc, "recurrence")
        places = {key: (f"recurrence.{key}", line_of(node, key)) for key in node}
        places.update({f"schedule.{key}": places[key] for key in triggers.SCHEDULE_KEYS if key in places})
        given = [key for key in ("hours", "minutes", "time_of_day", "week_days") if key in places]
        if given:  # a pattern's problem as a whole belongs to its first key
            places["schedule"] = places[given[0]]
        trigger: dict[str, Any] = {
            "type": "recurrence",
            "frequency": self.frequency(node, "recurrence.", line),
            "interval": self.interval(node, "recurrence.", line),
        }
        pattern = {key: [] for key in triggers.SCHEDULE_KEYS}
        pattern.update(self.pattern_lists(node, "recurrence.", keys=("hours", "minutes", "week_days")))
        frequency = trigger["frequency"]
        # ScheduleRecurrence's rules: hours, minutes and time_of_day with Day or Week; week_days with Week.
        for key in ("hours", "minutes", "time_of_day", "week_days"):
            allowed = ("week",) if key == "week_days" else ("day", "week")
            if node.get(key) is not None and frequency and frequency not in allowed:
                kinds = " or ".join(a.title() for a in allowed)
                self.problem(line_of(node, key), f"recurrence.{key}", f"applies only with frequency {kinds}")
        if node.get("time_of_day") is not None:
            if node.get("hours") is not None or node.get("minutes") is not None:
                message = "give time_of_day or hours and minutes, not both"
                self.problem(line_of(node, "time_of_day"), "recurrence.time_of_day", message)
            else:
                pattern["hours"], pattern["minutes"] = self.time_of_day(node)
                places["schedule.hours"] = places["schedule.minutes"] = places["time_of_day"]
        elif pattern["hours"] and not pattern["minutes"]:
            pattern["minutes"] = [0]  # on the hour, rather than at the minute the schedule was created
        trigger["schedule"] = pattern
        self.zone_and_times(trigger, node, "recurrence.", with_end=False)
        self.check_trigger(trigger, places, line, "recurrence")
        return trigger

    def time_of_day(self, node: dict) -> tuple[list[int], list[int]]:
        value = plain(node["time_of_day"])
        match = _TIME_OF_DAY.fullmatch(str(value).strip())
        if match and int(match[1]) < 24 and int(match[2]) < 60:
            return [int(match[1])], [int(match[2])]
        message = f'expected a time of day as hh:mm in quotes, e.g. "04:30", got {value!r}'
        self.problem(line_of(node, "time_of_day"), "recurrence.time_of_day", message)
        return [], []

    def v1_change(self, doc: dict) -> dict | None:
        line = line_of(doc, "datastore")
        folder = self.text(doc, "datastore", None)
        if folder is None:
            self.problem(line, "datastore", "expected a local folder to watch, e.g. datastore: ./incoming")
            return None
        if REMOTE.match(folder):
            message = f"{folder!r}: the local engine watches a local folder; give its path, e.g. ./incoming"
            self.problem(line, "datastore", message)
            return None
        sub = self.text(doc, "path_on_datastore", "")
        path = os.path.normpath(self.path.parent / os.path.expanduser(folder) / sub)
        if not os.path.isdir(path):
            where = "path_on_datastore" if sub and os.path.isdir(self.path.parent / folder) else "datastore"
            self.problem(line_of(doc, where), where, f"folder not found ({path})")
        places = {
            "path": ("datastore", line),
            "polling_interval": ("polling_interval", line_of(doc, "polling_interval")),
        }
        trigger = {
            "type": "change",
            "path": path,
            "polling_interval": self.integer(doc, "polling_interval", "", 5),
        }
        self.check_trigger(trigger, places, line, "datastore")
        return trigger

    # --- shared pieces ------------------------------------------------------------------------------------------

    def name(self, doc: dict) -> str:
        name = self.text(doc, "name", "")
        if not name:
            if "name" not in self.reported:
                self.problem(line_of(doc, "name"), "name", "missing: the schedule's name")
        elif not _SCHEDULE_NAME.fullmatch(name):
            message = f"{name!r} is not a schedule name (letters, digits, -, _ and .; no spaces)"
            self.problem(line_of(doc, "name"), "name", message)
        return name

    def frequency(self, node: dict, prefix: str, line: int) -> str | None:
        value = self.text(node, "frequency", None, prefix)
        if value is None:
            if f"{prefix}frequency" not in self.reported:
                self.problem(line, f"{prefix}frequency", f"missing: one of {', '.join(triggers.FREQUENCIES)}")
            return None
        return value.lower()  # the v1 SDK writes Day, the CLI day

    def interval(self, node: dict, prefix: str, line: int) -> int | None:
        if node.get("interval") is None:
            self.problem(line, f"{prefix}interval", "missing: how many frequency units between runs, e.g. 1")
            return None
        return self.integer(node, "interval", prefix)

    def pattern_lists(self, node: dict, prefix: str, keys: tuple = triggers.SCHEDULE_KEYS) -> dict[str, list]:
        """hours, minutes, month_days (numbers) and week_days (lower-case names), each one value or a list."""
        pattern = {}
        for key in keys:
            raw = to_plain(node.get(key))
            if raw is None:
                continue
            values = raw if isinstance(raw, list) else [raw]
            if key == "week_days":
                if all(isinstance(v, str) for v in values):
                    pattern[key] = [v.strip().lower() for v in values]
                    continue
                wanted = "day names, e.g. [monday, friday]"
            elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                pattern[key] = values
                continue
            else:
                wanted = "whole numbers, e.g. [0, 30]"
            self.problem(line_of(node, key), f"{prefix}{key}", f"expected {wanted}, got {raw!r}")
        return pattern

    def zone_and_times(self, trigger: dict, node: dict, prefix: str, with_end: bool) -> None:
        name = self.text(node, "time_zone", "UTC", prefix)
        try:
            zone = triggers.resolve_time_zone(name)
            trigger["time_zone"] = zone.key
        except ValueError:
            zone, trigger["time_zone"] = UTC, name  # check_trigger reports it
        trigger["time_zone_name"] = name
        for key in ("start_time", "end_time") if with_end else ("start_time",):
            trigger[key] = self.wall_clock(node, key, prefix, zone)
        if trigger["start_time"] is None and f"{prefix}start_time" not in self.reported:
            # Azure ML starts a schedule without start_time when it is created.
            start = self.now.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
            trigger["start_time"] = start.isoformat()
        trigger.setdefault("end_time", None)

    def wall_clock(self, node: dict, key: str, prefix: str, zone: Any) -> str | None:
        raw = node.get(key)
        if raw is None:
            return None
        try:
            moment = datetime.fromisoformat(str(raw).strip())
        except ValueError:
            message = f'expected a date and time like "2026-01-01T04:00:00", got {plain(raw)!r}'
            self.problem(line_of(node, key), f"{prefix}{key}", message)
            return None
        if moment.tzinfo is not None:  # "2026-01-01T04:00:00-04:00": that moment, on the schedule's clock
            moment = moment.astimezone(zone).replace(tzinfo=None)
        return moment.replace(microsecond=0).isoformat()

    def check_trigger(self, trigger: dict, places: dict, line: int, where: str) -> None:
        """triggers.validate's problems, each at the line of the key it is about."""
        for key, message in triggers.validate(trigger):
            shown, at = places.get(key) or places.get(key.partition(".")[0]) or (f"{where}.{key}", line)
            if shown not in self.reported:
                self.problem(at, shown, message)
