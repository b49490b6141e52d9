"""A step's logs on Azure ML: listed by run history, read from their blobs by byte range, never whole."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from backends.azureml import compose, demo
from backends.base import NotFound
from runs.models import StepRun
from runs.sync import sync_backend
from tests.azureml.conftest import AZURE


def std_log_of(child: dict) -> str:
    return demo.log_text(child["displayName"], 12)


def test_a_log_is_read_by_byte_range_and_reports_its_size(replay):
    backend = replay()
    child = compose.recorded_step_runs()[0]
    text = std_log_of(child).encode()

    first = backend.read_log(demo.RECORDED_JOB, child["runId"], "user_logs/std_log.txt", 0, 30)
    tail = backend.read_log(
        demo.RECORDED_JOB, child["runId"], "user_logs/std_log.txt", len(text) - 10, 1 << 20
    )
    past = backend.read_log(demo.RECORDED_JOB, child["runId"], "user_logs/std_log.txt", len(text) + 5, 100)
    size = backend.read_log(demo.RECORDED_JOB, child["runId"], "user_logs/std_log.txt", 0, 0)

    assert (first.data, first.next_offset, first.size, first.more) == (text[:30], 30, len(text), False)
    assert tail.data == text[-10:] and tail.next_offset == len(text)
    assert past.data == b"" and past.size == len(text)
    assert size.data == b"" and size.size == len(text)
    ranges = [
        s.headers.get("x-ms-range") for s in backend.workspace.recording.sent if "/ExperimentRun/" in s.path
    ]
    assert ranges == [
        "bytes=0-29",
        f"bytes={len(text) - 10}-{len(text) - 10 + (1 << 20) - 1}",
        f"bytes={len(text) + 5}-{len(text) + 104}",
        None,
    ]
    assert not any(
        "Authorization" in s.headers for s in backend.workspace.recording.sent if "/ExperimentRun/" in s.path
    )


def test_a_log_the_step_does_not_have_is_not_found(replay):
    backend = replay()
    child = compose.recorded_step_runs()[0]
    with pytest.raises(NotFound, match=re.escape("no log named 'azureml-logs/70_driver_log.txt'")):
        backend.read_log(demo.RECORDED_JOB, child["runId"], "azureml-logs/70_driver_log.txt", 0, 10)


@pytest.mark.django_db
def test_the_log_page_shows_a_replayed_log_with_its_tabs_named_as_the_service_names_them(
    replay, viewer_client, redis_url
):
    replay()
    assert not sync_backend(AZURE, now=True).error
    step = StepRun.objects.get(run__backend=AZURE, node_id="hello_world_inline_commandjob_1")

    page = viewer_client.get(
        reverse("runs:step_log", args=[step.run_id, step.node_id, "user_logs/std_log.txt"])
    )

    html = page.content.decode()
    assert page.status_code == 200
    assert "[hello_world_inline_commandjob_1] epoch  11 loss=0.0833" in html
    # each tab names a log the service lists, with its size (read from the blob's Content-Range)
    assert re.search(
        r"system_logs/cs_capability/cs-capability\.log <span class=\"tab-size\">· [\d.]+ (bytes|KB)</span></a>",
        html,
    )
    assert f'href="{step.external_url}"' in html and "Open in Azure ML Studio" in html
    download = viewer_client.get(
        reverse("runs:step_log_download", args=[step.run_id, step.node_id, "user_logs/std_log.txt"])
    )
    child = next(c for c in compose.recorded_step_runs() if c["displayName"] == step.node_id)
    assert b"".join(download.streaming_content).decode() == std_log_of(child)
