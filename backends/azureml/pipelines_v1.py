"""The v1 pipelines service of a workspace: published pipelines, pipeline endpoints and v1 schedules.

No maintained v1 SDK exists to depend on; the service is called with azure-core and the workspace's credential.
Paths and field names follow the generated REST clients of azureml-pipeline-core 1.62.0 (Aether,
``/pipelines/v1.0/{workspace}/...``, PascalCase JSON): ``Pipelines``, ``PipelineEndpoints``, ``Schedules``,
``PipelineRuns/Schedule/{id}``. A workspace without v1 objects answers empty lists (or 404): it shows none.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from backends import triggers
from backends.azureml.client import Workspace
from backends.azureml.runhistory import parse_time
from backends.azureml.schedules import wall_clock
from backends.base import PublishedPipelineInfo, ScheduleInfo

ENTITY_STATUS = {"0": "Active", "1": "Deprecated", "2": "Disabled"}
FREQUENCY = {"0": "month", "1": "week", "2": "day", "3": "hour", "4": "minute"}
WEEK_DAY_NUMBERS = dict(zip("0123456", triggers.WEEK_DAYS, strict=True))
ENDPOINT_PREFIX = "endpoint:"
SCHEDULE_PREFIX = "v1:"


def _status(value: Any) -> str:
    text = str(value if value is not None else "Active")
    return ENTITY_STATUS.get(text, text)


class PipelinesService:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _list(self, path: str) -> list[dict[str, Any]]:
        try:
            found = self.workspace.get_json(self.workspace.pipelines, path, activeOnly="false")
        except ResourceNotFoundError:
            return []
        if isinstance(found, dict):  # some versions page: {"Value": [...], "ContinuationToken": ...}
            found = found.get("Value") or found.get("value") or []
        return [item for item in found or [] if isinstance(item, dict)]

    def published(self) -> list[PublishedPipelineInfo]:
        pipelines = [self._pipeline_info(p) for p in self._list("/Pipelines")]
        endpoints = [self._endpoint_info(e) for e in self._list("/PipelineEndpoints")]
        return pipelines + endpoints

    def schedules(self) -> list[ScheduleInfo]:
        return [self._schedule_info(s) for s in self._list("/Schedules")]

    def schedule_runs(self, schedule_id: str) -> list[dict[str, Any]]:
        try:
            found = self.workspace.get_json(self.workspace.pipelines, f"/PipelineRuns/Schedule/{schedule_id}")
        except ResourceNotFoundError:
            return []
        return [r for r in found or [] if isinstance(r, dict)]

    def set_pipeline_status(self, pipeline_id: str, enabled: bool) -> PublishedPipelineInfo:
        path = f"/Pipelines/{pipeline_id}"
        self.workspace.put_json(
            self.workspace.pipelines, f"{path}/status", "Active" if enabled else "Disabled"
        )
        return self._pipeline_info(self.workspace.get_json(self.workspace.pipelines, path))

    def set_schedule_status(self, schedule_id: str, enabled: bool) -> ScheduleInfo:
        path = f"/Schedules/{schedule_id}"
        entity = self.workspace.get_json(self.workspace.pipelines, path)
        entity["EntityStatus"] = "Active" if enabled else "Disabled"
        updated = self.workspace.put_json(self.workspace.pipelines, path, entity)
        return self._schedule_info(updated or self.workspace.get_json(self.workspace.pipelines, path))

    # --- shapes -------------------------------------------------------------------------------

    def _pipeline_info(self, p: dict[str, Any]) -> PublishedPipelineInfo:
        parameters = {
            str(name): {"type": "string", "default": value, "optional": True}
            for name, value in (p.get("ParameterAssignments") or {}).items()
        }
        return PublishedPipelineInfo(
            id=str(p["Id"]),
            name=str(p.get("Name") or p["Id"]),
            description=str(p.get("Description") or ""),
            version=str(p.get("Version") or ""),
            status=_status(p.get("EntityStatus")),
            endpoint=str(p.get("Url") or ""),
            continue_on_step_failure=bool(p.get("ContinueRunOnStepFailure")),
            parameters=parameters,
            created_at=parse_time(p.get("CreatedDate")),
            updated_at=parse_time(p.get("LastModifiedDate")),
        )

    def _endpoint_info(self, e: dict[str, Any]) -> PublishedPipelineInfo:
        versions = e.get("PipelineVersionList") or []
        default = str(e.get("DefaultVersion") or "")
        pipeline = next((v.get("PipelineId") for v in versions if str(v.get("Version")) == default), "")
        return PublishedPipelineInfo(
            id=ENDPOINT_PREFIX + str(e["Id"]),
            name=str(e.get("Name") or e["Id"]),
            description=str(e.get("Description") or ""),
            version=f"endpoint, default version {default}" if default else "endpoint",
            status=_status(e.get("EntityStatus")),
            pipeline_id=str(pipeline or ""),
            endpoint=str(e.get("Url") or ""),
            created_at=parse_time(e.get("CreatedDate")),
            updated_at=parse_time(e.get("LastModifiedDate")),
        )

    def _schedule_info(self, s: dict[str, Any]) -> ScheduleInfo:
        submission = s.get("PipelineSubmissionInfo") or {}
        target = s.get("PipelineId") or ""
        if not target and s.get("PipelineEndpointId"):
            target = ENDPOINT_PREFIX + str(s["PipelineEndpointId"])
        return ScheduleInfo(
            id=SCHEDULE_PREFIX + str(s["Id"]),
            name=str(s.get("Name") or s["Id"]),
            enabled=_status(s.get("EntityStatus")) == "Active",
            trigger=_v1_trigger(s),
            published_pipeline_id=str(target),
            experiment_name=str(submission.get("ExperimentName") or ""),
            parameters=dict(submission.get("ParameterAssignments") or {}),
            description=str(submission.get("Description") or ""),
        )


def _v1_trigger(s: dict[str, Any]) -> dict[str, Any]:
    store = s.get("DataStoreTriggerInfo")
    kind = str(s.get("ScheduleType", ""))
    if store and kind in ("1", "DataStore", ""):
        path = f"{store.get('DataStoreName', '')}/{store.get('PathOnDataStore') or ''}".rstrip("/")
        return {"type": "change", "path": path, "polling_interval": int(store.get("PollingInterval") or 5)}
    recurrence = s.get("Recurrence") or {}
    pattern = recurrence.get("Schedule") or {}
    zone_name = str(recurrence.get("TimeZone") or "UTC")
    try:
        zone = triggers.resolve_time_zone(zone_name).key
    except ValueError:
        zone = zone_name
    frequency = str(recurrence.get("Frequency", "day"))
    return {
        "type": "recurrence",
        "frequency": FREQUENCY.get(frequency, frequency.lower()),
        "interval": int(recurrence.get("Interval") or 1),
        "schedule": {
            "hours": list(pattern.get("Hours") or []),
            "minutes": list(pattern.get("Minutes") or []),
            "week_days": [
                WEEK_DAY_NUMBERS.get(str(d), str(d).lower()) for d in pattern.get("WeekDays") or []
            ],
            "month_days": [],
        },
        "time_zone": zone,
        "time_zone_name": zone_name,
        "start_time": wall_clock(recurrence.get("StartTime")),
        "end_time": None,
    }
