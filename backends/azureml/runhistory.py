"""Run history, the workspace service that knows each run's times and children.

Shapes from the run history specification (Azure/azure-rest-api-specs,
``specification/machinelearningservices/data-plane/Microsoft.MachineLearningServices.RunHistory/stable/v1.0/
run-history.json`` and the older ``.../Microsoft.MachineLearningServices/preview/2019-08-01/runHistory.json``):
a page is ``{"value": [Run], "continuationToken": ..., "nextLink": ...}``; ``runs:query`` exists per experiment
only and takes ``{"filter", "orderBy", "top", "continuationToken"}``. Every page is read here, by the
continuation token: azure-ai-ml's own pager stops after the first.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from backends.azureml.client import Workspace

PAGE = 100
MAX_PAGES = 1000  # a bound on any listing: 100,000 runs


def odata_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RunHistory:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def client(self):
        return self.workspace.history

    def _pages(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        token = None
        for _ in range(MAX_PAGES):
            page = self.workspace.post_json(
                self.client, path, {**body, **({"continuationToken": token} if token else {})}
            )
            yield from page.get("value") or []
            token = page.get("continuationToken")
            if not token:
                return

    def experiments(self, created_after: datetime | None = None) -> list[dict[str, Any]]:
        """Experiments (``{"experimentId", "name", "createdUtc", ...}``), newest first."""
        body: dict[str, Any] = {"orderBy": "CreatedUtc desc", "top": PAGE}
        if created_after is not None:
            body["filter"] = f"CreatedUtc gt {odata_time(created_after)}"
        return list(self._pages("/experiments:query", body))

    def root_runs(self, scope: str, created_after: datetime | None) -> Iterator[dict[str, Any]]:
        """An experiment's top-level runs, newest first, down to ``created_after``.

        ``scope`` is ``experimentids/{id}`` or ``experiments/{name}``: run queries exist per experiment only.
        """
        query = "ParentRunId eq null"
        if created_after is not None:
            query += f" and CreatedUtc gt {odata_time(created_after)}"
        body = {"filter": query, "orderBy": "CreatedUtc desc", "top": PAGE}
        for run in self._pages(f"/{scope}/runs:query", body):
            created = parse_time(run.get("createdUtc"))
            if created_after is not None and created is not None and created <= created_after:
                return  # the service filtered already; this guards against one that did not
            yield run

    def family(self, scope: str, root_run_id: str) -> list[dict[str, Any]]:
        """A run and every run below it (a pipeline job's steps), in one query."""
        body = {"filter": f"RootRunId eq {root_run_id}", "top": PAGE}
        return list(self._pages(f"/{scope}/runs:query", body))

    def run(self, run_id: str) -> dict[str, Any]:
        return self.workspace.get_json(self.client, f"/runs/{run_id}")

    def details(self, run_id: str) -> dict[str, Any]:
        """A run's details, with ``logFiles``: each log's name and a signed URL to read it."""
        return self.workspace.get_json(self.client, f"/runs/{run_id}/details")


def parse_time(value: Any) -> datetime | None:
    """Run history's times: ISO 8601 with 'Z' or an offset, sometimes with 7 digits of fractions."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.year < 1900:  # "0001-01-01T00:00:00" means none
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
