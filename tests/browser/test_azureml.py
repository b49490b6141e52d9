"""In Chromium: an Azure ML run beside a local run, its steps, graph and timeline, a log read by ranges from its
replayed blob, and its link to Azure ML Studio."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from backends.azureml import demo
from runs.models import PipelineRun
from runs.sync import sync_backend
from tests.azureml.conftest import AZURE
from tests.browser.conftest import log_in
from tests.integration.helpers import PIPELINES, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_azure_run_beside_a_local_run_with_its_graph_log_and_studio_link(
    page, live_server, replay, viewer, redis_url
):
    replay()
    local_id = submit(PIPELINES / "two_steps.yml")
    assert not sync_backend("local", now=True).error and not sync_backend(AZURE, now=True).error
    azure_run = PipelineRun.objects.get(backend=AZURE, external_id=demo.SCHEDULED_JOB)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}/runs/")
    expect(page.locator(f"#run-{azure_run.pk}")).to_contain_text(AZURE)
    expect(page.locator("#run-rows")).to_contain_text(local_id)
    page.select_option("#filter-backend", AZURE)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#run-rows tr")).to_have_count(5)

    page.locator(f"#run-{azure_run.pk} a").first.click()
    expect(page.locator("h1")).to_have_text("hello_pipeline_abc")
    expect(page.locator("svg.graph a.graph-node")).to_have_count(3)
    expect(page.locator("svg.graph .graph-edge")).to_have_count(1)
    expect(page.locator("svg.timeline .timeline-row")).to_have_count(3)
    studio = page.get_by_role("link", name="Open in Azure ML Studio")
    expect(studio).to_have_attribute(
        "href", re.compile(rf"^https://ml\.azure\.com/runs/{demo.SCHEDULED_JOB}\?wsid=/subscriptions/0{{8}}-")
    )

    page.locator('svg.graph a.graph-node[data-node="c"]').click()
    expect(page).to_have_url(re.compile(rf"/runs/{azure_run.pk}/steps/c/logs/user_logs/std_log\.txt/$"))
    expect(page.locator(".log")).to_contain_text("[c] epoch  39 loss=0.0250")
    expect(page.locator("nav.tabs a[aria-current=page]")).to_have_text(
        re.compile(r"^user_logs/std_log\.txt · \d+(\.\d)? (bytes|KB)$")
    )
    expect(page.get_by_role("link", name="Open in Azure ML Studio")).to_have_attribute(
        "href", re.compile(r"^https://ml\.azure\.com/runs/sharp_sail_k3v9d2-c-")
    )
    ranged = [s for s in replay_requests(azure_run) if "/ExperimentRun/" in s.path and s.method == "GET"]
    assert ranged and all(s.headers.get("x-ms-range", "").startswith("bytes=") for s in ranged)
    assert errors == []


def replay_requests(run: PipelineRun):
    from backends.registry import get_backend

    return get_backend(run.backend).workspace.recording.sent
