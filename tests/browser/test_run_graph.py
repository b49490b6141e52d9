"""In Chromium: a run's step graph, drawn by the server, opens a step's log from a node and follows statuses live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from backends.base import RunStatus
from backends.registry import get_backend
from runs.models import PipelineRun
from tests.browser.conftest import log_in
from tests.integration.helpers import EXAMPLES, PIPELINES, submit, wait_for, wait_for_status
from tests.test_run_graph import fan_out, graph_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def mirrored(run_id: str, statuses: set[str]) -> PipelineRun:
    return wait_for(
        lambda: PipelineRun.objects.filter(external_id=run_id, status__in=statuses).first(),
        what=f"the mirror of {run_id} to be one of {sorted(statuses)}",
    )


def test_the_fan_out_graph_has_a_node_per_step_that_opens_its_log(page, live_server, viewer, celery_beat):
    run_id = submit(EXAMPLES / "fan-out" / "pipeline.yml")
    wait_for_status(run_id, set(RunStatus.TERMINAL), timeout=180)
    run = mirrored(run_id, {RunStatus.COMPLETED})

    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")

    nodes = page.locator("svg.graph a.graph-node")
    expect(nodes).to_have_count(23)
    expect(page.locator("svg.graph .graph-edge")).to_have_count(41)
    expect(page.locator("svg.graph")).to_contain_text("parts → parts")
    expect(page.locator('#graph-status [data-node="merge"]')).to_have_attribute("data-status", "Completed")
    expect(page.locator("svg.timeline .timeline-row")).to_have_count(23)
    # Server-drawn SVG under the content security policy: no inline style anywhere.
    assert page.evaluate("document.querySelectorAll('style, [style]').length") == 0

    page.locator('svg.graph a.graph-node[data-node="shard_07"]').click()

    expect(page).to_have_url(re.compile(rf"/runs/{run.pk}/steps/shard_07/logs/stdout/$"))
    expect(page.locator("main")).to_contain_text("shard_07")


def test_the_graph_follows_statuses_live_without_reloading(page, live_server, viewer, celery_beat):
    run_id = submit(PIPELINES / "sleeper.yml")
    wait_for_status(run_id, {RunStatus.RUNNING})
    run = mirrored(run_id, {RunStatus.RUNNING})
    wait_for(lambda: run.steps.filter(node_id="sleep", status=RunStatus.RUNNING).exists(), what="the step")

    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    sleep = page.locator('#graph-status [data-node="sleep"]')
    expect(sleep).to_have_attribute("data-status", "Running", timeout=10_000)
    expect(page.locator('#graph-status [data-node="after"]')).to_have_attribute("data-status", "NotStarted")
    page.locator("#details-sleep summary").click()  # a reader's open details stay open through live updates
    # Marks that a reload, or a new drawing of the structure, would wipe out.
    page.evaluate(
        "() => { window.__sameDocument = true; document.querySelector('svg.graph').dataset.mark = '1'; }"
    )

    get_backend("local").cancel_run(run_id)

    expect(sleep).to_have_attribute("data-status", "Canceled", timeout=15_000)
    expect(page.locator("#step-sleep")).to_contain_text("Canceled")  # the outline, out of band
    expect(page.locator("#details-sleep")).to_have_attribute("open", "")
    assert page.evaluate("() => window.__sameDocument === true")
    assert page.evaluate("() => document.querySelector('svg.graph').dataset.mark") == "1"
    # The run is over: the overlay's last answer (286) stopped its polling.
    expect(page.locator("#graph-status")).not_to_have_attribute("hx-get", re.compile(".+"), timeout=10_000)
    wait_for_status(run_id, set(RunStatus.TERMINAL))


def test_a_wide_fan_out_is_one_node_that_expands_on_click(page, live_server, viewer):
    steps, edges = fan_out(247)
    run = graph_run(steps, edges, statuses={"shard_009": RunStatus.FAILED})

    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")

    expect(page.locator("svg.graph a.graph-node")).to_have_count(4)
    group = page.locator('#graph-status [data-node="shard_000"]')
    expect(group).to_have_attribute("data-status", "247 steps · 1 failed")
    expect(page.locator("table.outline tr.step")).to_have_count(250)

    page.locator('svg.graph a.graph-group[data-node="shard_000"]').click()

    expect(page).to_have_url(re.compile(r"\?expand=shard_000#graph$"))
    expect(page.locator("svg.graph a.graph-node")).to_have_count(250)
    page.get_by_role("link", name="Failed path only (1 failed)").click()
    expect(page.locator("svg.graph a.graph-node")).to_have_count(4)  # split, shard_009, merge, report
