"""In Chromium: search a log and jump to a match, open a line link, load earlier lines with the page's copy kept
bounded, and follow the live tail of a running step."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from backends.base import RunStatus
from backends.local import executor
from backends.local.engine import submit_spec
from backends.local.models import LocalStep
from backends.local.spec import load_pipeline
from runs.models import PipelineRun
from runs.sync import sync_run
from tests.browser.conftest import log_in
from tests.integration.helpers import PIPELINES, submit, wait_for, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SLOW = 20_000  # ms: a window of a few thousand lines takes Chromium a second or two to lay out without a GPU


def numbered_log(count: int) -> bytes:
    return b"".join(b"line %06d of the log, \x1b[32mok\x1b[0m\n" % i for i in range(1, count + 1))


@pytest.fixture
def log_index(tmp_path, settings):
    settings.LOG_INDEX_DIR = tmp_path / "log-index"


@pytest.fixture
def finished_log(engine_dir, log_index, monkeypatch):
    """Returns a function that makes a finished run whose step ``write`` logged the given bytes, and its URL."""
    monkeypatch.setattr(executor, "advance", lambda run_id: None)  # nothing runs: the log is written here

    def make(data: bytes) -> str:
        run = submit_spec(load_pipeline(PIPELINES / "two_steps.yml"))
        step = run.steps.get(node_id="write")
        LocalStep.objects.filter(pk=step.pk).update(status=RunStatus.COMPLETED)
        path = executor.log_path(step, "stdout")
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        mirrored = sync_run("local", run.pk)
        return f"{mirrored.get_absolute_url()}steps/write/logs/stdout/"

    return make


def in_view(page, selector: str) -> None:
    expect(page.locator(selector)).to_be_in_viewport()


def test_search_a_log_and_jump_to_a_match(page, live_server, viewer, finished_log):
    data = numbered_log(100_000)
    data = data.replace(b"line 031337 of", b"line 031337 NEEDLE of").replace(
        b"line 070000 of", b"line 070000 needle of"
    )
    url = finished_log(data)
    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}{url}")
    expect(page.locator("#L100000")).to_be_visible()
    at_end = "el => el.scrollHeight - el.scrollTop - el.clientHeight < 5"
    assert page.locator("#log").evaluate(at_end)

    page.fill("input[name=q]", "needle")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#log-results")).to_contain_text("2 matches for “needle”")
    page.get_by_role("link", name="line 31337").click()

    line = page.locator("#L31337")
    expect(line).to_be_in_viewport()
    expect(line).to_have_class(re.compile(r"\blog-current\b"))
    expect(line.locator("mark.log-match")).to_have_text("NEEDLE")
    assert page.url.endswith("?line=31337&q=needle#L31337")

    page.get_by_role("link", name="Next match →").click()
    expect(page.locator("#L70000")).to_be_in_viewport()
    expect(page.locator("#L70000")).to_have_class(re.compile(r"\blog-current\b"))
    page.get_by_role("link", name="Next match →").click()
    expect(page.locator(".messages")).to_contain_text("No match for “needle” after this line.")
    expect(page.locator("#L70000")).to_be_in_viewport()


def test_a_line_link_opens_the_log_at_that_line(page, live_server, viewer, finished_log):
    url = finished_log(numbered_log(50_000))
    log_in(page, live_server, "viewer", "viewer-pass-123")

    page.goto(f"{live_server.url}{url}?line=1234#L1234")
    expect(page.locator("#L1234")).to_be_in_viewport()
    expect(page.locator("#L1234")).to_have_class(re.compile(r"\blog-current\b"))

    page.goto(f"{live_server.url}{url}#L777")  # a #L link without ?line: the page fetches that line
    expect(page.locator("#L777")).to_be_in_viewport()
    assert page.url.endswith("?line=777#L777")

    page.locator("#L780 a[data-n]").click()  # a line's number: the address bar gets its link
    expect(page.locator("#L780")).to_have_class(re.compile(r"\blog-target\b"))
    assert page.url.endswith("?line=780#L780")
    page.reload()
    expect(page.locator("#L780")).to_be_in_viewport()


def test_load_earlier_and_the_page_keeps_a_bounded_copy_of_the_log(page, live_server, viewer, finished_log):
    url = finished_log(numbered_log(40_000))  # 1.4 MB: windows of 256 KB
    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}{url}")
    lines = page.locator("#log .log-chunk > div")
    tail_first = int(lines.first.get_attribute("id")[1:])

    page.locator("#log .log-earlier").click()
    expect(page.locator(f"#L{tail_first - 1}")).to_be_attached(timeout=SLOW)
    ids = [int(i[1:]) for i in lines.evaluate_all("els => els.map(e => e.id)")]
    assert ids == list(range(ids[0], 40_001))  # prepended, meeting the tail exactly

    # Past the page's budget (4 MB; lowered here) the windows farthest away are dropped, with a link back.
    page.locator("#log").evaluate("el => el.setAttribute('data-max-bytes', '600000')")
    page.locator("#log .log-earlier").click()
    expect(page.locator("#log .log-later")).to_be_attached(timeout=SLOW)
    expect(page.locator("#L40000")).not_to_be_attached()
    expect(page.locator(f"#L{tail_first - 1}")).to_be_attached(timeout=SLOW)
    total = page.locator("#log .log-chunk").evaluate_all(
        "els => els.reduce((n, e) => n + (+e.dataset.end - +e.dataset.start), 0)"
    )
    assert total <= 600_000
    oldest = int(lines.first.get_attribute("id")[1:])

    page.locator("#log .log-later").click()
    expect(page.locator(f"#L{tail_first}")).to_be_attached(timeout=SLOW)
    expect(page.locator(f"#L{oldest}")).not_to_be_attached()  # dropped from the other end now
    expect(page.locator("#log .log-earlier")).to_be_attached()
    ids = [int(i[1:]) for i in lines.evaluate_all("els => els.map(e => e.id)")]
    assert ids == list(range(ids[0], ids[0] + len(ids)))


def test_the_live_tail_of_a_running_step_appends_numbered_lines(
    page, live_server, viewer, celery_beat, log_index
):
    running = submit(PIPELINES / "sleeper.yml")
    try:
        wait_for_status(running, {RunStatus.RUNNING})
        run = wait_for(
            lambda: PipelineRun.objects.filter(external_id=running).first(), what="the mirrored run"
        )
        wait_for(
            lambda: run.steps.filter(node_id="sleep", status=RunStatus.RUNNING).exists(), what="the step"
        )
        log_in(page, live_server, "viewer", "viewer-pass-123")
        page.goto(f"{live_server.url}{run.get_absolute_url()}steps/sleep/logs/stdout/")

        expect(page.locator("#log")).to_contain_text("tick 1", timeout=10_000)
        shown = page.locator("#log .log-chunk > div").count()
        expect(page.locator(f"#L{shown + 5}")).to_contain_text(f"tick {shown + 4}", timeout=10_000)
        ids = page.locator("#log .log-chunk > div").evaluate_all("els => els.map(e => +e.id.slice(1))")
        assert ids == list(range(1, len(ids) + 1))  # appended in order, each line once
        expect(page.locator(f"#L{shown + 5}")).to_be_in_viewport()  # following the end
    finally:
        from backends.registry import get_backend

        get_backend("local").cancel_run(running)
        wait_for_status(running, set(RunStatus.TERMINAL))
