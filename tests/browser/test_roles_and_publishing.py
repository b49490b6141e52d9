"""In Chromium: what each role sees and may do; publishing a pipeline and triggering it over HTTP."""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from backends.base import RunStatus
from backends.registry import get_backend
from dashboard.models import Action
from runs.models import PipelineRun
from tests.browser.conftest import log_in
from tests.integration.helpers import PIPELINES, submit, wait_for, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_run(page, live_server, name: str) -> None:
    page.goto(f"{live_server.url}/runs/")
    page.get_by_role("link", name=name).first.click()


def test_a_viewer_sees_no_cancel_button_and_a_forged_cancel_gets_403(page, live_server, viewer, celery_beat):
    page.expected_errors.append("status of 403")  # the forged request, refused
    run_id = submit(PIPELINES / "sleeper.yml")
    wait_for_status(run_id, {RunStatus.RUNNING})
    log_in(page, live_server, "viewer", "viewer-pass-123")
    wait_for(lambda: PipelineRun.objects.filter(external_id=run_id).exists(), what="the mirror")
    open_run(page, live_server, "Sleeper")
    expect(page.locator("#run-status")).to_have_text("Running", timeout=10_000)

    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    run = PipelineRun.objects.get(external_id=run_id)
    status = page.evaluate(
        """async (url) => {
            const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
            const response = await fetch(url, {method: "POST", headers: {"X-CSRFToken": token},
                                               body: new URLSearchParams({reason: "forged"})});
            return response.status;
        }""",
        f"{live_server.url}/runs/{run.pk}/cancel",
    )

    assert status == 403
    assert not Action.objects.exists()
    assert get_backend("local").get_run(run_id).status == RunStatus.RUNNING
    get_backend("local").cancel_run(run_id)


def test_an_operator_cancels_with_a_reason_and_finds_it_in_the_audit_trail(
    page, live_server, operator, celery_beat
):
    run_id = submit(PIPELINES / "sleeper.yml")
    wait_for_status(run_id, {RunStatus.RUNNING})
    wait_for(lambda: PipelineRun.objects.filter(external_id=run_id).exists(), what="the mirror")
    log_in(page, live_server, "operator", "operator-pass-123")
    open_run(page, live_server, "Sleeper")

    page.fill("input[name=reason]", "feature store is down")
    page.get_by_role("button", name="Cancel run").click()
    expect(page.locator("#run-status")).to_have_text("Canceled", timeout=10_000)

    page.get_by_role("link", name="Actions").click()
    row = page.locator("table.actions tbody tr").first
    expect(row).to_contain_text("Cancel run")
    expect(row).to_contain_text("operator")
    expect(row).to_contain_text("feature store is down")
    expect(row).to_contain_text("Succeeded")
    row.get_by_role("link", name="Sleeper").click()
    expect(page.locator("h1")).to_contain_text("Sleeper")


def test_publish_create_a_token_trigger_it_over_http_and_see_the_run(
    page, live_server, operator, celery_beat
):
    run_id = submit(PIPELINES / "two_steps.yml", greeting="web")
    wait_for_status(run_id, set(RunStatus.TERMINAL))
    wait_for(
        lambda: PipelineRun.objects.filter(external_id=run_id, status="Completed").exists(), what="the mirror"
    )
    log_in(page, live_server, "operator", "operator-pass-123")
    open_run(page, live_server, "Two steps")

    page.get_by_text("Publish this pipeline").click()
    page.fill("input[name=name]", "greeter")
    page.fill("input[name=version]", "1.0")
    page.fill("textarea[name=description]", "says hello")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("table.actions")).to_contain_text("Succeeded", timeout=10_000)
    page.get_by_role("link", name="open").first.click()
    expect(page.locator("h1")).to_contain_text("greeter")
    expect(page.locator("#published-status")).to_have_text("Active")

    page.fill("input[name=name]", "smoke test")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token-value").inner_text().strip()
    endpoint = page.locator("#endpoint").inner_text().removeprefix("POST ").strip()
    assert secret.startswith("rbp_")

    request = urllib.request.Request(
        endpoint,
        data=json.dumps(
            {"ExperimentName": "smoke", "ParameterAssignments": {"greeting": "over http"}}
        ).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
        created = json.load(response)

    page.reload()
    expect(page.locator("table.runs")).to_contain_text(created["Id"])
    expect(page.locator("table.tokens")).not_to_contain_text("never")
    assert secret not in page.content()
    page.get_by_role("link", name=created["Id"]).click()
    expect(page.locator("#run-status")).to_have_text("Completed", timeout=15_000)
