"""Answer Azure ML's HTTP requests from recorded traffic instead of the network.

The recordings are in the azure-sdk test proxy's format (``{"Entries": [{"RequestUri", "RequestMethod",
"RequestBody", "StatusCode", "ResponseHeaders", "ResponseBody"}]}``), as the SDK's own test suite records them.
The replay plugs in below azure-core, as a ``requests`` adapter of the transport the SDK is given, so the real
SDK builds every request and parses every answer.

An entry answers a request when:
- the method is the same and the URL path is the same (case and a trailing slash aside; a segment the entry
  writes ``{name}`` stands for any one segment); the host and the ``api-version`` are not compared, since they
  vary between recordings and SDK versions;
- every other query parameter the entry's URL has, the request has with the same value;
- when the entry records a JSON object as ``RequestBody``, every key of it is in the request's body with the
  same value (so an entry can ask for ``{"filter": "RootRunId eq 'x'"}`` and ignore the rest).
Entries that answer the same request are used in their order, the last one again and again: a job read twice
can be Running, then Failed. A GET with a ``Range`` (or ``x-ms-range``) header is answered with those bytes of
the entry's body (206, ``Content-Range``), or 416 beyond its end, as Blob Storage does; a HEAD, by a GET's
entry without its body.
A request no entry answers raises ``UnansweredRequest``: a replay never invents an answer.
"""

from __future__ import annotations

import io
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import requests
from azure.core.pipeline.transport import RequestsTransport
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.response import HTTPResponse

IGNORED_QUERY = {"api-version"}
RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class UnansweredRequest(Exception):
    """The recording has no answer for a request: the code asked for something the recording never saw."""


@dataclass
class Sent:
    """A request as the replay received it."""

    method: str
    url: str
    body: Any  # parsed JSON, or text, or None
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.url).path)


@dataclass
class Recording:
    entries: list[dict[str, Any]]
    source: str = ""
    log: str = ""  # a file to append each request to, one JSON object a line (what would have been sent)
    sent: list[Sent] = field(default_factory=list)
    _used: dict[tuple[int, ...], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Entry numbers by (normal path, the "filter" their body asks for, or None); "" for wildcard paths.
    _index: dict[tuple[str, Any], list[int]] | None = None

    def _candidates(self, sent: Sent) -> list[int]:
        """The entries that may answer: same path, and the same run-history filter when the entry names one."""
        if self._index is None:
            self._index = {}
            for number, entry in enumerate(self.entries):
                path = _normal_path(entry["RequestUri"])
                body = entry.get("RequestBody")
                key = body.get("filter") if isinstance(body, dict) else None
                self._index.setdefault(("" if "{" in path else path, key), []).append(number)
        path = _normal_path(sent.url)
        asked = sent.body.get("filter") if isinstance(sent.body, dict) else None
        found = self._index.get((path, None), []) + self._index.get(("", None), [])
        if asked is not None:
            found += self._index.get((path, asked), [])
        return sorted(found)

    @classmethod
    def load(cls, path: str | Path, log: str = "") -> Recording:
        data = json.loads(Path(path).read_text())
        entries = data.get("Entries") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ValueError(f"{path}: not a recording: it needs a list of 'Entries'")
        for number, entry in enumerate(entries):
            missing = {"RequestUri", "RequestMethod", "StatusCode"} - set(entry)
            if missing:
                raise ValueError(f"{path}: entry {number} lacks {', '.join(sorted(missing))}")
        return cls(entries=entries, source=str(path), log=log)

    def answer(self, sent: Sent) -> dict[str, Any]:
        with self._lock:
            self.sent.append(sent)
            if self.log:
                with open(self.log, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"method": sent.method, "url": sent.url, "body": sent.body}) + "\n")
            matching = [i for i in self._candidates(sent) if _answers(self.entries[i], sent)]
            if not matching:
                raise UnansweredRequest(
                    f"{self.source or 'the recording'} has no answer for {sent.method} {sent.path}"
                    + (f" with body {json.dumps(sent.body)[:300]}" if sent.body is not None else "")
                )
            group = tuple(matching)
            used = self._used.get(group, 0)
            self._used[group] = used + 1
            return self.entries[matching[min(used, len(matching) - 1)]]

    def transport(self) -> RequestsTransport:
        """An azure-core transport that answers from this recording (give it to MLClient as ``transport=``)."""
        session = requests.Session()
        session.trust_env = False
        adapter = ReplayAdapter(self)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return RequestsTransport(session=session, session_owner=False)


def _normal_path(url: str) -> str:
    return unquote(urlsplit(url).path).rstrip("/").lower()


def _same_path(recorded: str, sent: str) -> bool:
    """Equal, but for a recorded segment written ``{name}``: it stands for any one segment (a new job's name)."""
    ours, theirs = _normal_path(recorded).split("/"), _normal_path(sent).split("/")
    return len(ours) == len(theirs) and all(
        a == b or (a.startswith("{") and a.endswith("}")) for a, b in zip(ours, theirs, strict=True)
    )


def _answers(entry: dict[str, Any], sent: Sent) -> bool:
    method = entry["RequestMethod"].upper()
    if method != sent.method.upper() and not (sent.method.upper() == "HEAD" and method == "GET"):
        return False
    if not _same_path(entry["RequestUri"], sent.url):
        return False
    wanted = {k: v for k, v in parse_qsl(urlsplit(entry["RequestUri"]).query) if k not in IGNORED_QUERY}
    given = dict(parse_qsl(urlsplit(sent.url).query))
    if any(given.get(k) != v for k, v in wanted.items()):
        return False
    recorded_body = entry.get("RequestBody")
    if isinstance(recorded_body, dict) and entry["RequestMethod"].upper() in ("POST", "PUT", "PATCH"):
        if not isinstance(sent.body, dict):
            return False
        return all(sent.body.get(k) == v for k, v in recorded_body.items())
    return True


class ReplayAdapter(BaseAdapter):
    """A ``requests`` adapter that answers from a Recording."""

    def __init__(self, recording: Recording) -> None:
        super().__init__()
        self.recording = recording

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        if body:
            try:
                body = json.loads(body)
            except ValueError:
                pass
        headers = dict(request.headers)
        entry = self.recording.answer(Sent(request.method or "GET", request.url or "", body or None, headers))
        status = int(entry["StatusCode"])
        response_headers = CaseInsensitiveDict(entry.get("ResponseHeaders") or {})
        content = _content(entry.get("ResponseBody"), response_headers)
        wanted = CaseInsensitiveDict(headers).get("x-ms-range") or CaseInsensitiveDict(headers).get("Range")
        if wanted and request.method == "GET" and status == 200:
            status, content = _ranged(wanted, content, response_headers)
        response_headers["Content-Length"] = str(len(content))
        if request.method == "HEAD":  # the headers a GET would have had, and no body
            content = b""
        response = requests.Response()
        response.status_code = status
        response.headers = response_headers
        # A raw body to read from, as from a socket: azure-core streams downloads from it.
        response.raw = HTTPResponse(
            body=io.BytesIO(content),
            headers=dict(response_headers),
            status=status,
            preload_content=False,
            decode_content=False,
            request_method=request.method,
        )
        response.url = request.url or ""
        response.request = request
        response.reason = requests.status_codes._codes.get(status, ("",))[0].upper().replace("_", " ")
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def _content(body: Any, headers: CaseInsensitiveDict) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return body.encode()
    headers.setdefault("Content-Type", "application/json; charset=utf-8")
    return json.dumps(body).encode()


def _ranged(wanted: str, content: bytes, headers: CaseInsensitiveDict) -> tuple[int, bytes]:
    match = RANGE.match(wanted.strip())
    if not match:
        return 200, content
    start = int(match.group(1))
    end = int(match.group(2)) if match.group(2) else len(content) - 1
    if start >= len(content):
        headers["Content-Range"] = f"bytes */{len(content)}"
        return 416, b""
    end = min(end, len(content) - 1)
    headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
    return 206, content[start : end + 1]
