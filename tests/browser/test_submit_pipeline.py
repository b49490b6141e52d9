"""In Chromium: an operator starts a pipeline from its page. A bad value is named beside its field, what was typed
is kept; a good submission is followed live on the page (no reload) until it links to the run it started."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from backends.local.engine import register_pipeline_file
from backends.registry import get_backend
from runs.models import Pipeline
from runs.sync import sync_pipelines
from tests.browser.conftest import ARTIFACTS, log_in
from tests.integration.helpers import PIPELINES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_fixes_a_bad_input_submits_and_follows_the_action_to_its_run(
    page, live_server, operator, celery_beat
):
    register_pipeline_file(PIPELINES / "typed_inputs.yml")
    sync_pipelines(get_backend("local"))
    pipeline = Pipeline.objects.get(backend="local", external_id="typed_inputs")
    log_in(page, live_server, "operator", "operator-pass-123")
    page.goto(f"{live_server.url}{pipeline.get_absolute_url()}")
    page.evaluate("window.sameDocument = true")  # gone if anything reloads the page

    page.locator("summary", has_text="Submit a run").click()
    expect(page.locator("#id_input_epochs")).to_have_value("3")
    expect(page.locator("#id_input_mode")).to_have_value("fast")
    page.fill("#id_input_epochs", "500")
    page.fill("#id_input_label", "from the browser")
    page.select_option("#id_input_mode", "careful")
    page.fill("#id_tags", "team=vision")
    page.get_by_role("button", name="Submit run").click()

    epochs = page.locator(".submit-field", has=page.locator("#id_input_epochs"))
    expect(epochs.locator(".errorlist")).to_have_text("500 is above the maximum, 100.")
    expect(epochs).to_have_class(re.compile(r"\binvalid\b"))
    expect(page.locator(".submit-field .errorlist")).to_have_count(1)  # only the bad field
    expect(page.locator("#id_input_label")).to_have_value("from the browser")  # what was typed is kept
    expect(page.locator("#id_input_mode")).to_have_value("careful")
    ARTIFACTS.mkdir(exist_ok=True)
    # caret="initial": hiding the caret would add an inline style, which the content security policy refuses.
    page.locator("#pipeline-submit").screenshot(
        path=str(ARTIFACTS / "pipeline-submit-error.png"), caret="initial"
    )

    page.fill("#id_input_epochs", "7")
    page.get_by_role("button", name="Submit run").click()

    expect(page.locator(".submit-note")).to_contain_text("Run requested (action #")
    row = page.locator("#pipeline-submissions tbody tr").first
    expect(row).to_contain_text("epochs=7")
    expect(row).to_contain_text("team=vision")
    expect(row.locator("td").nth(4)).to_contain_text(re.compile("Submitting…|Submitted run"))
    link = row.get_by_role("link", name="open the run")
    expect(link).to_be_visible(timeout=20_000)
    expect(row).to_contain_text("Succeeded")
    assert page.evaluate("window.sameDocument") is True  # followed live, never reloaded
    page.screenshot(path=str(ARTIFACTS / "pipeline-submit-done.png"), full_page=True, caret="initial")

    link.click()
    expect(page.locator("h1")).to_contain_text("Typed inputs")
    expect(page.locator("#run-status")).to_have_text("Completed", timeout=20_000)
    expect(page.locator("main")).to_contain_text("from the browser")
    expect(page.locator("main")).to_contain_text("careful")
