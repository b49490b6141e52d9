"""A step's logs on Azure ML: run history lists them (``logFiles``: name → signed blob URL); they are read by
byte range from Blob Storage (``x-ms-range``; 206 with ``Content-Range``, 416 past the end), never whole."""

from __future__ import annotations

import re

from azure.core.rest import HttpRequest

from backends.azureml.cache import Memo
from backends.azureml.client import Workspace
from backends.azureml.runhistory import RunHistory
from backends.base import LogChunk, NotFound, RunStatus

STD_LOG = "user_logs/std_log.txt"

CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+)")
DETAILS_SECONDS = 300  # signed URLs last for hours; a running step's list of logs grows, so look again


class StepLogs:
    def __init__(self, workspace: Workspace, history: RunHistory) -> None:
        self.workspace = workspace
        self.history = history
        self._details: Memo[str, dict] = Memo(size=2000, ttl=DETAILS_SECONDS)

    def details(self, step_run_id: str, *, fresh: bool = False) -> dict:
        found = None if fresh else self._details.get(step_run_id)
        return (
            found if found is not None else self._details.put(step_run_id, self.history.details(step_run_id))
        )

    def names(self, step_run_id: str, *, fresh: bool = False) -> tuple[str, ...]:
        """The step's logs, the user's own first (``user_logs/std_log.txt``): the one a step's link opens."""
        names = (self.details(step_run_id, fresh=fresh).get("logFiles") or {}).keys()
        return tuple(sorted(names, key=lambda n: (n != STD_LOG, not n.startswith("user_logs/"), n)))

    def read(self, step_run_id: str, name: str, offset: int, limit: int) -> LogChunk:
        details = self.details(step_run_id)
        url = (details.get("logFiles") or {}).get(name)
        if url is None:  # a log that appeared since the list was read
            details = self.details(step_run_id, fresh=True)
            url = (details.get("logFiles") or {}).get(name)
        if url is None:
            raise NotFound(f"step run {step_run_id} has no log named {name!r}")
        more = not RunStatus.is_terminal(str(details.get("status") or ""))
        offset = max(0, offset)
        if limit <= 0:
            response = self.workspace.send(self.workspace.anonymous, HttpRequest("HEAD", url))
            size = int(response.headers.get("Content-Length") or 0)
            return LogChunk(b"", min(offset, size), min(offset, size), size, more)
        request = HttpRequest("GET", url, headers={"x-ms-range": f"bytes={offset}-{offset + limit - 1}"})
        response = self.workspace.send(self.workspace.anonymous, request, ok=(200, 206, 416), stream=True)
        try:
            total = _total(response.headers.get("Content-Range"))
            if response.status_code == 416:
                size = total if total is not None else offset
                return LogChunk(b"", min(offset, size), min(offset, size), size, more)
            if response.status_code == 206:
                data = response.read()[:limit]
            else:  # a server that ignored the range: skip to the offset, keep no more than asked for
                total = int(response.headers.get("Content-Length") or 0) or None
                data = _window(response.iter_bytes(), offset, limit)
        finally:
            response.close()
        size = total if total is not None else offset + len(data)
        return LogChunk(data, offset, offset + len(data), size, more)


def _window(pieces, offset: int, limit: int) -> bytes:
    kept = bytearray()
    position = 0
    for piece in pieces:
        start = max(0, offset - position)
        if start < len(piece):
            kept += piece[start : start + limit - len(kept)]
        position += len(piece)
        if len(kept) >= limit:
            break
    return bytes(kept)


def _total(content_range: str | None) -> int | None:
    match = CONTENT_RANGE.match(content_range or "")
    return int(match[3]) if match else None
