"""Replays of Azure ML workspaces composed from recorded traffic, for tests, benchmarks and the demo backend.

Real recordings (``recordings/``, from the azure-sdk-for-python test suite) hold a pipeline job with its two
step runs, a schedule's life, the workspace and its discovery document. Requests no public recording covers are
composed here: bodies copied from recorded ones (a run-history run shaped like the recorded step runs, a jobs
list wrapping recorded jobs) or, where nothing was recorded, shaped by hand from the REST specifications named
beside each builder. Every composed entry says so in ``_composed``; recorded ones keep their body as recorded.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).resolve().parent / "recordings"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
GROUP = WORKSPACE = "00000"
ARM = "https://management.azure.com"
API = "https://westus.api.azureml.ms"  # the discovery document's "api": run history
PIPELINES = "https://westus.aether.ms"  # its "pipelines": the v1 pipelines service
BLOBS = "https://sanitized.blob.core.windows.net/azureml/ExperimentRun"
RUN_HISTORY_SPEC = (
    "Azure/azure-rest-api-specs specification/machinelearningservices/data-plane/"
    "Microsoft.MachineLearningServices.RunHistory/stable/v1.0/run-history.json"
)
MFE_SPEC = (
    "Azure/azure-rest-api-specs specification/machinelearningservices/resource-manager/"
    "Microsoft.MachineLearningServices/preview/2024-01-01-preview/mfe.json"
)
V1_SHAPES = (
    "the generated REST clients of azureml-pipeline-core 1.62.0 (shared/azureml-recordings/v1-rest-shapes.md)"
)


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDINGS / name).read_text())


def time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "+00:00")


class Composer:
    """Entries of one workspace's replay, added one request at a time."""

    def __init__(
        self, subscription: str = SUBSCRIPTION, group: str = GROUP, workspace: str = WORKSPACE
    ) -> None:
        self.subscription, self.group, self.workspace = subscription, group, workspace
        self.entries: list[dict[str, Any]] = []

    @property
    def path(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )

    def add(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        request: Any = None,
        composed: str = "",
        recorded_from: str = "",
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "RequestUri": url,
            "RequestMethod": method,
            "RequestHeaders": {"Accept": "application/json"},
            "RequestBody": request,
            "StatusCode": status,
            "ResponseHeaders": {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
            "ResponseBody": body,
        }
        if composed:
            entry["_composed"] = composed
        if recorded_from:
            entry["_recorded"] = recorded_from
        self.entries.append(entry)
        return entry

    def recorded_entries(self, name: str, numbers: list[int]) -> None:
        """Entries of a recording as they were recorded (their request bodies were not kept: any body matches),
        addressed to this workspace's subscription when the recording used another sanitised form."""
        for number in numbers:
            entry = copy.deepcopy(recorded(name)["Entries"][number])
            text = json.dumps(entry)
            for short in (
                "00000000-0000-0000-0000-000000000/",
                '00000000-0000-0000-0000-000000000"',
                "00000000-0000-0000-0000-000000000?",
            ):
                text = text.replace(
                    short, short.replace("00000000-0000-0000-0000-000000000", self.subscription)
                )
            entry = json.loads(text)
            entry["_recorded"] = f"{name} entry {number}" + (
                ""
                if self.subscription == "00000000-0000-0000-0000-000000000"
                else ", its subscription id written in full"
            )
            self.entries.append(entry)

    def arm(self, tail: str, query: str = "api-version=2024-01-01-preview") -> str:
        return f"{ARM}{self.path}{tail}?{query}"

    def history(self, tail: str) -> str:
        return f"{API}/history/v1.0{self.path}{tail}"

    def v1(self, tail: str) -> str:
        return f"{PIPELINES}/pipelines/v1.0{self.path}{tail}"

    def dump(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps({"Entries": self.entries, "Variables": {}}, indent=1) + "\n")
        return path

    # --- the workspace ------------------------------------------------------------------------

    def workspace_and_discovery(self) -> None:
        found = recorded("workspace-and-discovery.json")
        body = copy.deepcopy(found["workspace"])
        body["id"], body["name"] = self.path, self.workspace
        self.add("GET", self.arm("", "api-version=2024-10-01-preview"), body, recorded_from="workspace GET")
        self.add("GET", f"{API}/discovery", found["discovery"], recorded_from="discovery GET")

    def experiments(self, experiments: list[tuple[str, str, datetime]]) -> None:
        """``POST experiments:query`` (no public recording; Experiment shape from the run history spec)."""
        value = [
            {
                "experimentId": experiment_id,
                "name": name,
                "description": None,
                "createdUtc": time(created),
                "tags": {},
                "archivedTime": None,
                "retainForLifetimeOfWorkspace": False,
                "artifactLocation": None,
            }
            for experiment_id, name, created in experiments
        ]
        self.add(
            "POST",
            self.history("/experiments:query"),
            {"value": value, "continuationToken": None, "nextLink": None},
            request={"orderBy": "CreatedUtc desc"},
            composed=f"experiments:query, shaped from {RUN_HISTORY_SPEC}",
        )

    # --- runs ---------------------------------------------------------------------------------

    def listing(self, experiment_id: str, roots: list[dict[str, Any]], page: int = 100) -> None:
        """An experiment's top-level runs, newest first, in pages joined by continuation tokens."""
        ordered = sorted(roots, key=lambda r: r["createdUtc"], reverse=True)
        pages = [ordered[i : i + page] for i in range(0, len(ordered), page)] or [[]]
        for number, chunk in enumerate(pages):
            token = f"page-{number + 1}" if number + 1 < len(pages) else None
            self.add(
                "POST",
                self.history(f"/experimentids/{experiment_id}/runs:query"),
                {"value": chunk, "continuationToken": token, "nextLink": None},
                request={
                    "orderBy": "CreatedUtc desc",
                    "continuationToken": f"page-{number}" if number else None,
                },
                composed=f"runs:query (top-level runs), recorded run bodies; paging from {RUN_HISTORY_SPEC}",
            )

    def family(self, experiment_id: str, root: dict[str, Any], children: list[dict[str, Any]]) -> None:
        """``runs:query`` with ``RootRunId eq``: the run and its steps."""
        self.add(
            "POST",
            self.history(f"/experimentids/{experiment_id}/runs:query"),
            {"value": [root, *children], "continuationToken": None, "nextLink": None},
            request={"filter": f"RootRunId eq {root['runId']}"},
            composed="runs:query (a run and its children), recorded run bodies",
        )

    def run(self, run: dict[str, Any]) -> None:
        self.add("GET", self.history(f"/runs/{run['runId']}"), run, composed="run GET, a recorded run body")

    def job(self, body: dict[str, Any], *, recorded_from: str = "", composed: str = "") -> None:
        self.add(
            "GET", self.arm(f"/jobs/{body['name']}"), body, recorded_from=recorded_from, composed=composed
        )

    def details(self, run: dict[str, Any], logs: dict[str, str]) -> dict[str, str]:
        """``GET runs/{id}/details`` with ``logFiles`` (no public recording; RunDetails from the run history
        spec), and each log as a blob read by range. Returns the log URLs."""
        urls = {
            name: f"{BLOBS}/dcid.{run['runId']}/{name}?sv=2019-07-07&sr=b&sp=r&sig=replayed" for name in logs
        }
        body = {
            k: run.get(k)
            for k in ("runId", "runUuid", "parentRunId", "status", "target", "error", "warnings")
        }
        body |= {
            "startTimeUtc": run.get("startTimeUtc"),
            "endTimeUtc": run.get("endTimeUtc"),
            "createdTimeUtc": run.get("createdUtc"),
            "properties": run.get("properties") or {},
            "inputDatasets": [],
            "outputDatasets": [],
            "logFiles": urls,
        }
        self.add(
            "GET",
            self.history(f"/runs/{run['runId']}/details"),
            body,
            composed=f"run details with logFiles, shaped from {RUN_HISTORY_SPEC}",
        )
        for name, text in logs.items():
            self.add(
                "GET",
                urls[name],
                text,
                headers={"Content-Type": "text/plain; charset=utf-8", "Accept-Ranges": "bytes"},
                composed="a log blob; ranges answered as Blob Storage does (206, Content-Range; 416)",
            )
        return urls

    def cancel(self, name: str) -> None:
        """``POST jobs/{id}/cancel`` (no public recording; 202 + Location per the spec's Jobs_Cancel)."""
        location = f"{ARM}/subscriptions/{self.subscription}/providers/Microsoft.MachineLearningServices/locations/westus/mfeOperationResults/jc:{name}?api-version=2023-04-01-preview"
        self.add(
            "POST",
            self.arm(f"/jobs/{name}/cancel", "api-version=2023-04-01-preview"),
            None,
            status=202,
            headers={"Location": location, "Retry-After": "0"},
            composed=f"job cancel, shaped from {MFE_SPEC} (Jobs_Cancel)",
        )

    def compute(self, name: str = "cpu-cluster") -> None:
        """``GET computes/{name}``, which the SDK asks before it sends a job (an AmlCompute per the mfe.json spec)."""
        body = {
            "id": f"{self.path}/computes/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/computes",
            "location": "westus",
            "properties": {
                "computeType": "AmlCompute",
                "provisioningState": "Succeeded",
                "properties": {
                    "vmSize": "STANDARD_DS3_V2",
                    "scaleSettings": {"maxNodeCount": 4, "minNodeCount": 0},
                },
            },
        }
        self.add(
            "GET",
            self.arm(f"/computes/{name}", "api-version=2024-10-01-preview"),
            body,
            composed=f"a compute, shaped from {MFE_SPEC}",
        )

    def created_job(self, body: dict[str, Any]) -> None:
        """``PUT jobs/{name}`` for any new job's name: 201 with the job as the service has it."""
        self.add(
            "PUT", self.arm("/jobs/{name}"), body, status=201, composed="a job created, a recorded job body"
        )

    # --- schedules ----------------------------------------------------------------------------

    def schedules(self, bodies: list[dict[str, Any]]) -> None:
        self.add(
            "GET",
            self.arm("/schedules", "api-version=2023-06-01-preview&listViewType=All"),
            {"value": bodies},
            composed="schedules list (All), wrapping recorded schedule bodies",
        )

    def error(self, method: str, url: str, status: int, code: str, message: str, **headers: str) -> None:
        """An ARM error answer (``{"error": {"code", "message"}}``, common-types ErrorResponse)."""
        self.add(
            method,
            url,
            {"error": {"code": code, "message": message}},
            status=status,
            headers=headers,
            composed=f"an ARM ErrorResponse ({code})",
        )

    # --- the v1 pipelines service ---------------------------------------------------------------

    def v1_list(self, what: str, items: list[dict[str, Any]]) -> None:
        self.add(
            "GET",
            self.v1(f"/{what}") + "?activeOnly=false",
            items,
            composed=f"v1 {what} list, shaped from {V1_SHAPES}",
        )


# --- bodies shaped like the recorded ones ---------------------------------------------------------


def recorded_pipeline_job() -> dict[str, Any]:
    """The recorded pipeline job's ARM body, as it was when it ended (Failed)."""
    entries = recorded("pipeline-job-with-children.json")["Entries"]
    return copy.deepcopy(
        [e for e in entries if e["RequestMethod"] == "GET" and "/jobs/" in e["RequestUri"]][-1][
            "ResponseBody"
        ]
    )


def recorded_step_runs() -> list[dict[str, Any]]:
    entries = recorded("pipeline-job-with-children.json")["Entries"]
    return copy.deepcopy(
        next(
            e
            for e in entries
            if e["RequestUri"].endswith("children?api-version=v1.0") or "/children" in e["RequestUri"]
        )["ResponseBody"]["value"]
    )


def recorded_schedule() -> dict[str, Any]:
    entries = recorded("schedule-lifetime.json")["Entries"]
    listing = next(e for e in entries if e["RequestMethod"] == "GET" and "schedules?" in e["RequestUri"])
    return copy.deepcopy(listing["ResponseBody"]["value"][0])


def run_body(
    run_id: str,
    *,
    status: str,
    created: datetime,
    started: datetime | None = None,
    ended: datetime | None = None,
    display_name: str = "",
    parent: str | None = None,
    root: str | None = None,
    experiment_id: str = "feaf39dd-e0de-4b57-9b9a-d5837337665a",
    run_type: str = "azureml.PipelineRun",
    error: str = "",
    properties: dict[str, str] | None = None,
    target: str = "cpu-cluster",
    modified: datetime | None = None,
) -> dict[str, Any]:
    """A run-history run: the recorded step run's body with these fields in place of its own."""
    body = recorded_step_runs()[0]
    body.update(
        {
            "runId": run_id,
            "rootRunId": root or parent or run_id,
            "parentRunId": parent,
            "displayName": display_name or run_id,
            "experimentId": experiment_id,
            "status": status,
            "createdUtc": time(created),
            "startTimeUtc": time(started) if started else None,
            "endTimeUtc": time(ended) if ended else None,
            "lastModifiedUtc": time(modified or ended or started or created),
            "runType": run_type,
            "target": target,
            "warnings": None,
            "error": {"error": {"code": "UserError", "message": error}} if error else None,
            # v2 jobs and their steps say so (azureml.DevPlatv2), as the recorded ones do
            "properties": {"azureml.DevPlatv2": "true", "azureml.runsource": run_type, **(properties or {})},
            "tags": {},
            "hidden": False,
        }
    )
    return body
