"""In Chromium: names, tags, parameters, errors and log text carrying HTML or script are shown as text.

The browser context bypasses the content security policy, so these tests prove the escaping on its own: with the
policy on, an escaping bug would be hidden (the policy would block the script and window.__xss would stay unset).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from backends.base import RunStatus
from runs.models import PipelineRun
from tests import factories
from tests.browser.conftest import ARTIFACTS, log_in
from tests.integration.helpers import submit, wait_for, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
SVG = '"><svg onload=window.__xss=1>'
LINK = "javascript:window.__xss=1"
ANCHOR = '<a href="javascript:window.__xss=1">click</a>'
PAYLOADS = [SCRIPT, IMG, SVG, LINK, ANCHOR]

# Whatever an unescaped payload would have added to the page. Runboard's own drawings (graph, timeline,
# trends) are SVG with a class; an injected one has none.
INJECTED = (
    "main script, main img, main svg:not([class]), main iframe, [onerror], [onload], a[href^='javascript:']"
)

PIPELINE = """\
type: pipeline
name: {name}
display_name: {display_name}
experiment_name: {experiment}
tags:
  {script}: {link}
  owner: {svg}
  note: {anchor}
inputs:
  payload: {img}
jobs:
  shout:
    display_name: {step_name}
    code: .
    command: python emit.py
    environment_variables:
      GO_FILE: {go}
    inputs:
      payload: ${{{{parent.inputs.payload}}}}
"""

EMIT = """\
import os, sys, time
from pathlib import Path

payloads = {payloads!r}
for p in payloads:
    print("out", p, flush=True)
go = Path(os.environ["GO_FILE"])
deadline = time.monotonic() + 120
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
for p in payloads:
    print("tail", p, flush=True)
    time.sleep(0.1)
print("stderr", {img!r}, file=sys.stderr, flush=True)
sys.exit(3)
"""


@pytest.fixture
def page(browser, request):
    """Like the shared page, in a context where the content security policy is not applied."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True)
    page = context.new_page()
    page.expected_errors = []
    yield page
    if getattr(request.node, "rep_call", None) and request.node.rep_call.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def write_pipeline(folder: Path) -> Path:
    q = json.dumps  # a JSON string is a valid double-quoted YAML scalar
    (folder / "emit.py").write_text(EMIT.format(payloads=PAYLOADS, img=IMG))
    path = folder / "pipeline.yml"
    path.write_text(
        PIPELINE.format(
            name=q("xss-pipeline" + SVG),
            display_name=q("Run " + SCRIPT),
            experiment=q("exp " + IMG),
            script=q(SCRIPT),
            link=q(LINK),
            svg=q(SVG),
            anchor=q(ANCHOR),
            img=q(IMG),
            step_name=q("Step " + SVG),
            go=q(str(folder / "go")),
        )
    )
    return path


def assert_inert(page: Page, *texts: str) -> None:
    """Nothing ran, nothing was injected, and each text shows literally."""
    for text in texts:
        expect(page.locator("main")).to_contain_text(text)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator(INJECTED).count() == 0


def test_payloads_in_a_run_and_its_logs_are_shown_as_text(page, live_server, operator, celery_beat, tmp_path):
    run_id = submit(write_pipeline(tmp_path))
    wait_for_status(run_id, {RunStatus.RUNNING})
    run = wait_for(lambda: PipelineRun.objects.filter(external_id=run_id).first(), what="the mirrored run")
    wait_for(lambda: run.steps.filter(node_id="shout", status=RunStatus.RUNNING).exists(), what="the step")
    log_in(page, live_server, "operator", "operator-pass-123")  # shown a viewer's page and the run's controls

    page.goto(f"{live_server.url}/runs/")
    expect(page.locator(f"#run-{run.pk}")).to_be_visible(timeout=10_000)
    assert_inert(page, "Run " + SCRIPT, "xss-pipeline" + SVG, "exp " + IMG)

    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    assert_inert(
        page, "Run " + SCRIPT, "xss-pipeline" + SVG, "exp " + IMG, "Step " + SVG, SCRIPT, LINK, SVG, ANCHOR
    )
    parameter = page.locator("dl.facts dt", has_text=re.compile(r"^payload$")).locator(
        "xpath=following-sibling::dd[1]"
    )
    expect(parameter.first).to_have_text(IMG)

    page.locator("#step-shout").get_by_role("link", name="stdout").click()
    for payload in PAYLOADS:
        expect(page.locator("#log")).to_contain_text(f"out {payload}", timeout=10_000)
    assert_inert(page, "Run " + SCRIPT, "Step " + SVG, IMG)  # crumbs, heading, the step's input
    (tmp_path / "go").touch()
    for payload in PAYLOADS:  # arrive through the live tail, swapped in by htmx
        expect(page.locator("#log")).to_contain_text(f"tail {payload}", timeout=10_000)
    assert_inert(page)

    assert wait_for_status(run_id, set(RunStatus.TERMINAL)) == RunStatus.FAILED
    wait_for(lambda: PipelineRun.objects.get(pk=run.pk).is_terminal, what="the mirror to see the failure")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    assert_inert(page, f"Exit code 3. stderr {IMG}")  # the step's error, and the run's error quoting it
    expect(page.locator("dd.error").first).to_contain_text(IMG)  # the run's error

    page.goto(f"{live_server.url}{run.get_absolute_url()}steps/shout/logs/stderr/")
    assert_inert(page, f"stderr {IMG}")


def test_payloads_the_loader_refuses_are_shown_as_text_too(page, live_server, operator):
    """Parameter names and step ids come from a backend too (Azure ML allows more than our loader does)."""
    run = factories.run(
        external_id="xss_mirror_only",
        status=RunStatus.FAILED,
        duration=0,
        display_name=IMG,
        pipeline_id=SCRIPT,
        experiment_name=LINK,
        error=SCRIPT,
        tags={IMG: ANCHOR},
        parameters={SCRIPT: IMG, "lr" + SVG: LINK},
        steps=[
            {
                "id": "s1",
                "node_id": "step" + SVG,
                "display_name": "",
                "status": RunStatus.FAILED,
                "error": ANCHOR,
                "inputs": {SCRIPT: SVG},
                "log_names": (),
            }
        ],
    )
    log_in(page, live_server, "operator", "operator-pass-123")  # shown a viewer's page and the run's controls

    page.goto(f"{live_server.url}/runs/")
    assert_inert(page, IMG, SCRIPT, LINK)

    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    assert_inert(page, IMG, SCRIPT, LINK, ANCHOR, "lr" + SVG, "step" + SVG)
