"""Playwright for Python driving Debian's Chromium. Without Chromium these tests are skipped, saying why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("RUNBOARD_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A page in a fresh context. Every test that uses it fails on a console error, an uncaught exception or a
    content security policy violation (Chromium reports each as a console error), whatever else it checks."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    answers: list[
        str
    ] = []  # every answer of 400 or more, and what the page asked before it: shown on failure
    page.on(
        "response",
        lambda r: answers.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None,
    )
    page.on("requestfailed", lambda r: answers.append(f"failed {r.method} {r.url}: {r.failure}"))
    page.console_errors = errors  # a test may look at them before its end
    page.expected_errors = []  # substrings of the errors a test causes on purpose (a 404 it opens, say)
    yield page
    failed = getattr(request.node, "rep_call", None) and request.node.rep_call.failed
    if failed:
        print("answers of 400 or more, failed requests:", answers or "none")
        print("console errors:", errors or "none")
        print("actions:", _actions_now())
    if failed or errors:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    unexpected = [e for e in errors if not any(allowed in e for allowed in page.expected_errors)]
    if unexpected and not failed:
        pytest.fail("the browser reported errors:\n" + "\n".join(unexpected), pytrace=False)


def _actions_now() -> list:
    """The actions the test asked for, as they stand: what the worker made of them."""
    try:
        from dashboard.models import Action

        return list(Action.objects.values_list("pk", "kind", "target_id", "status", "error", "result"))
    except Exception as exc:  # the database may be gone with a failed test: say so, never hide the failure
        return [f"could not read the actions: {exc!r}"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def log_in(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
