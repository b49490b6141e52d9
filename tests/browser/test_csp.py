"""In Chromium: every page satisfies the content security policy, and htmx's live regions still refresh under it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from backends.base import RunStatus
from backends.registry import get_backend
from runs.models import PipelineRun
from tests.browser.conftest import log_in
from tests.integration.helpers import PIPELINES, submit, wait_for, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs before any script of every page: collects the violations the browser reports and the htmx swaps.
WATCH = """
window.__cspViolations = [];
window.__swaps = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
document.addEventListener("htmx:afterSwap", (e) => window.__swaps.push(e.detail.target.id));
"""


class PolicyWatch:
    """What Chromium said about the content security policy, across every page the test opens."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        page.add_init_script(WATCH)
        page.on("console", self._console)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.console.append(message.text)

    def violations(self) -> list[str]:
        """Violations so far: console messages from every page, events from the current one."""
        return self.console + self.page.evaluate("window.__cspViolations")

    def wait_for_swap(self, target: str, timeout: float = 10_000) -> None:
        # A function, not an expression string: Playwright evals strings, which the policy rightly refuses.
        self.page.wait_for_function(
            "(target) => window.__swaps.includes(target)", arg=target, timeout=timeout
        )


def test_the_pages_satisfy_the_policy_and_stay_live(page, live_server, operator, celery_beat):
    watch = PolicyWatch(page)
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.get_by_role("heading", name="Log in to Runboard")).to_be_visible()
    assert watch.violations() == []

    running = submit(PIPELINES / "sleeper.yml")
    wait_for_status(running, {RunStatus.RUNNING})
    log_in(page, live_server, "operator", "operator-pass-123")  # a viewer's pages, and the run's controls

    page.goto(f"{live_server.url}/runs/")
    expect(page.locator("table.runs")).to_contain_text("Sleeper", timeout=10_000)
    watch.wait_for_swap("run-table")  # the list polls while a run is active
    assert watch.violations() == []

    run = wait_for(lambda: PipelineRun.objects.filter(external_id=running).first(), what="the mirrored run")
    wait_for(lambda: "stdout" in run.steps.get(node_id="sleep").log_names, what="the step's stdout")
    page.goto(f"{live_server.url}{run.get_absolute_url()}steps/sleep/logs/stdout/")
    expect(page.locator("#log")).to_contain_text("tick 1", timeout=10_000)
    watch.wait_for_swap("log-tail")
    first = page.locator("#log").inner_text().count("tick")
    expect(page.locator("#log")).to_contain_text(f"tick {first + 3}", timeout=10_000)
    assert watch.violations() == []

    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    expect(page.locator("#run-status")).to_have_text("Running", timeout=10_000)
    get_backend("local").cancel_run(running)
    # Only the live region's polling can bring the new status (an unchanged run answers 204, no swap).
    watch.wait_for_swap("run-live", timeout=15_000)
    expect(page.locator("#run-status")).to_have_text("Canceled", timeout=15_000)
    assert watch.violations() == []
    # htmx was told not to add its indicator <style>; the page has no inline style at all.
    assert page.evaluate("document.querySelectorAll('style, [style]').length") == 0

    page.expected_errors.append("status of 404")  # Chromium reports the page's own status
    page.goto(f"{live_server.url}/nowhere/")
    expect(page.get_by_role("heading", name="404 · Not found")).to_be_visible()
    assert watch.violations() == []


def test_an_inline_script_would_be_reported(page, live_server):
    """The watch itself works: a page with an inline script under the same policy reports a violation."""
    watch = PolicyWatch(page)
    page.expected_errors.append("Content Security Policy")
    page.goto(f"{live_server.url}/accounts/login/")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        " document.body.append(s); }"
    )

    wait_for(lambda: watch.violations(), timeout=5, what="a violation report")
    assert page.evaluate("typeof window.__ran") == "undefined"
