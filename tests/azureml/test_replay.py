"""The replay transport: which recorded entry answers which request, through the real azure-core pipeline."""

from __future__ import annotations

import json

import pytest
from azure.core import PipelineClient
from azure.core.rest import HttpRequest

from backends.azureml.replay import Recording, UnansweredRequest


def entry(method, uri, body=None, status=200, request=None, headers=None):
    return {
        "RequestUri": uri,
        "RequestMethod": method,
        "RequestBody": request,
        "StatusCode": status,
        "ResponseHeaders": headers or {},
        "ResponseBody": body,
    }


def client(recording: Recording) -> PipelineClient:
    return PipelineClient(base_url="https://example", transport=recording.transport())


def send(recording, method, url, **kwargs):
    response = client(recording).send_request(HttpRequest(method, url, **kwargs))
    response.read()
    return response


def test_it_answers_by_method_and_path_whatever_the_host_and_api_version():
    recording = Recording([entry("GET", "https://Sanitized.azure.com/a/B?api-version=2020", {"n": 1})])

    response = send(recording, "GET", "https://management.azure.com/a/b/?api-version=2024-01-01-preview")

    assert response.status_code == 200 and response.json() == {"n": 1}
    assert recording.sent[0].path == "/a/b/"


def test_it_fails_loudly_on_a_request_it_has_no_answer_for():
    recording = Recording([entry("GET", "https://h/a")])

    with pytest.raises(UnansweredRequest, match="no answer for POST /a"):
        send(recording, "POST", "https://h/a", json={})
    with pytest.raises(UnansweredRequest, match="no answer for GET /b"):
        send(recording, "GET", "https://h/b")


def test_query_parameters_and_body_keys_the_entry_names_must_match():
    recording = Recording(
        [
            entry("GET", "https://h/schedules?listViewType=All", {"view": "all"}),
            entry("POST", "https://h/q", {"which": "family"}, request={"filter": "RootRunId eq x"}),
            entry("POST", "https://h/q", {"which": "listing"}, request={"orderBy": "CreatedUtc desc"}),
        ]
    )

    assert send(recording, "GET", "https://h/schedules?listViewType=All&x=1").json() == {"view": "all"}
    with pytest.raises(UnansweredRequest):
        send(recording, "GET", "https://h/schedules?listViewType=EnabledOnly")
    listing = {"filter": "CreatedUtc gt 2026-01-01", "orderBy": "CreatedUtc desc", "top": 100}
    assert send(recording, "POST", "https://h/q", json=listing).json() == {"which": "listing"}
    assert send(recording, "POST", "https://h/q", json={"filter": "RootRunId eq x", "top": 9}).json() == {
        "which": "family"
    }


def test_entries_for_one_request_are_used_in_order_and_the_last_one_again():
    recording = Recording([entry("GET", "https://h/job", {"status": s}) for s in ("Running", "Failed")])

    statuses = [send(recording, "GET", "https://h/job").json()["status"] for _ in range(3)]

    assert statuses == ["Running", "Failed", "Failed"]


def test_ranges_are_answered_as_blob_storage_answers_them():
    recording = Recording([entry("GET", "https://blob/log.txt", "0123456789")])

    part = send(recording, "GET", "https://blob/log.txt", headers={"x-ms-range": "bytes=2-5"})
    past = send(recording, "GET", "https://blob/log.txt", headers={"x-ms-range": "bytes=10-20"})
    head = send(recording, "HEAD", "https://blob/log.txt")

    assert (part.status_code, part.content, part.headers["Content-Range"]) == (206, b"2345", "bytes 2-5/10")
    assert (past.status_code, past.headers["Content-Range"]) == (416, "bytes */10")
    assert (head.status_code, head.content, head.headers["Content-Length"]) == (200, b"", "10")


def test_a_log_file_gets_every_request_it_answered(tmp_path):
    log = tmp_path / "requests.jsonl"
    recording = Recording([entry("POST", "https://h/cancel", status=202)], log=str(log))

    send(recording, "POST", "https://h/cancel", json={"why": "test"})

    assert [json.loads(line) for line in log.read_text().splitlines()] == [
        {"method": "POST", "url": "https://h/cancel", "body": {"why": "test"}}
    ]


def test_a_file_that_is_not_a_recording_is_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"entries": []}')
    with pytest.raises(ValueError, match="needs a list of 'Entries'"):
        Recording.load(path)


def test_the_demo_workspace_file_is_what_its_composer_makes():
    from backends.azureml import demo
    from tests.conftest import ROOT

    shipped = json.loads((ROOT / "examples" / "azureml" / "workspace.json").read_text())

    assert shipped["Entries"] == json.loads(json.dumps(demo.workspace().entries)), (
        "examples/azureml/workspace.json is stale: python -m backends.azureml.demo examples/azureml/workspace.json"
    )
    assert all("_composed" in e or "_recorded" in e for e in shipped["Entries"])
