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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backends import triggers, yamlfile
from backends.local.checked import (
    BAD,
    REMOTE,
    File,
    SpecError,
    line_of,
    plain,
    sorted_problems,
    to_plain,
)
from backends.local.config import EngineConfig
from backends.local.schedule_job import EXPRESSION, CreateJobReading
from backends.local.spec import PipelineSpec

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
STATUSES = ("Active", "Disabled")
# The expressions Azure ML fills in when a schedule fires; the engine substitutes them (see run_parameters).


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
            return EXPRESSION.sub(lambda m: values.get(m[1], m[0]), value)

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


class _Loader(CreateJobReading):
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
