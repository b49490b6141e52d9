"""In Chromium: the environments page shows what the local engine built, opens its definition and build log, and
an operator's Remove goes through an Action that the worker carries out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from backends.local.environment_models import LocalEnvironment
from backends.local.environments import folder
from tests import factories
from tests.browser.conftest import log_in
from tests.integration.helpers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_reads_an_environment_and_removes_it(
    page, live_server, operator, celery_worker, tmp_path
):
    environment, step = factories.built_environment(tmp_path / "pipeline")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    log_in(page, live_server, "operator", "operator-pass-123")
    page.get_by_role("link", name="Environments").click()

    row = page.locator(f"#environment-{environment.pk}")
    expect(row).to_contain_text("Ready")
    expect(row).to_contain_text(f"{step.run_id} · step")
    definition = row.locator("details.environment-definition")
    expect(definition.locator("pre")).not_to_be_visible()
    definition.locator("summary").click()
    expect(definition.locator("pre")).to_have_text("tabulate==0.9.0\n")

    row.get_by_role("link", name="build log").click()
    expect(page).to_have_url(re.compile(rf"/environments/{environment.pk}/log$"))
    expect(page.locator("pre.log")).to_contain_text("+ tabulate==0.9.0")
    page.go_back()

    page.locator(f"#environment-{environment.pk}").get_by_role("button", name="Remove").click()
    expect(page.locator(".messages")).to_contain_text(f"Removing environment {environment.pk}")
    wait_for(lambda: not LocalEnvironment.objects.exists(), what="the worker to remove the environment")
    page.reload()
    expect(page.locator("table.environments")).to_contain_text("No environments built yet")
    expect(page.locator("table.actions")).to_contain_text("Succeeded")
    assert not folder(environment.pk).exists()
    assert errors == []
