"""The run pages: list, detail with live refresh, cancel permission, a step's log and its live tail."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.urls import reverse

from backends.base import RunStatus
from backends.local import executor
from backends.local.engine import submit_spec
from backends.local.models import LocalStep
from backends.local.spec import load_pipeline
from dashboard.models import Action
from runs.models import PipelineRun
from runs.sync import sync_run
from tests import factories
from tests.integration.helpers import PIPELINES

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def engine_run(engine_dir):
    """A run of the local engine, tagged team=vision, with a step whose stdout holds text, mirrored."""
    run = submit_spec(replace(load_pipeline(PIPELINES / "two_steps.yml"), tags={"team": "vision"}))
    step = run.steps.get(node_id="write")
    LocalStep.objects.filter(pk=step.pk).update(status=RunStatus.RUNNING)
    path = executor.log_path(step, "stdout")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"line one\n<script>alert('x')</script>\n")
    return sync_run("local", run.pk), path


def test_every_page_needs_a_login(client):
    response = client.get(reverse("runs:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_run_page_shows_steps_tags_and_parameters(viewer_client, engine_run):
    run, _ = engine_run

    page = viewer_client.get(run.get_absolute_url()).content.decode()

    assert "write" in page and "read" in page
    assert "vision" in page and "greeting" in page
    assert "write.out → read.message" in page


def test_an_unknown_run_is_a_404_page(viewer_client):
    response = viewer_client.get(reverse("runs:detail", args=[999999]))
    assert response.status_code == 404
    assert "Not found" in response.content.decode()


def test_the_run_page_stops_polling_once_the_run_is_terminal(viewer_client):
    run = factories.run(status=RunStatus.RUNNING)
    live = viewer_client.get(run.get_absolute_url(), HTTP_HX_TARGET="run-live", **HTMX)
    assert live.status_code == 200 and 'hx-trigger="every 2s"' in live.content.decode()

    factories.run(external_id=run.external_id, status=RunStatus.CANCELED)  # the next sync sees it end
    done = viewer_client.get(run.get_absolute_url(), HTTP_HX_TARGET="run-live", **HTMX)
    assert done.status_code == 286 and "every 2s" not in done.content.decode()


def test_a_user_without_the_cancel_permission_sees_no_cancel_button_and_gets_403(viewer_client):
    run = factories.run(status=RunStatus.RUNNING)

    assert "Cancel run" not in viewer_client.get(run.get_absolute_url()).content.decode()
    response = viewer_client.post(reverse("runs:cancel", args=[run.pk]), {"reason": "forged"})

    assert response.status_code == 403
    assert not Action.objects.exists()
    assert PipelineRun.objects.get(pk=run.pk).status == RunStatus.RUNNING


def test_cancel_writes_an_action_and_enqueues_it_after_commit(
    operator_client, operator, redis_url, django_capture_on_commit_callbacks
):
    run = factories.run(status=RunStatus.RUNNING)
    assert "Cancel run" in operator_client.get(run.get_absolute_url()).content.decode()

    with django_capture_on_commit_callbacks() as callbacks:
        response = operator_client.post(reverse("runs:cancel", args=[run.pk]), {"reason": "  wrong data  "})

    assert response.status_code == 302
    action = Action.objects.get()
    assert (action.kind, action.target_id, action.reason, action.requested_by) == (
        "cancel_run",
        run.external_id,
        "wrong data",
        operator,
    )
    assert action.status == Action.Status.PENDING and len(callbacks) == 1


def test_the_answer_to_cancel_shows_cancel_requested_and_follows_the_action(operator_client, operator):
    run = factories.run(status=RunStatus.RUNNING)

    answer = operator_client.post(
        reverse("runs:cancel", args=[run.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()

    assert 'id="run-status">CancelRequested</span>' in answer
    assert "Cancelling… requested by operator" in answer and "Cancel run</button>" not in answer
    assert 'hx-trigger="every 2s"' in answer  # it follows the run until it ends
    listed = operator_client.get(reverse("runs:list")).content.decode()
    assert f'<tr id="run-{run.pk}"' in listed and ">CancelRequested</span>" in listed
    # A second cancel, from the list, leaves it alone: it is being cancelled.
    preview = operator_client.post(reverse("runs:bulk_cancel"), {"ids": [run.pk], "scope": "selected"})
    assert preview.context["cancelling"] == [] and [r.pk for r in preview.context["left"]] == [run.pk]

    Action.objects.update(status=Action.Status.FAILED, error="the backend refused")  # it did not happen
    page = operator_client.get(run.get_absolute_url()).content.decode()
    assert 'id="run-status">Running</span>' in page and "Cancel run</button>" in page


def test_a_publish_under_way_says_so_then_links_to_what_it_made(viewer_client, viewer):
    run = factories.run(status=RunStatus.COMPLETED)
    viewer_client.post(reverse("runs:publish", args=[run.pk]), {"name": "greeter"})

    assert "Publishing…" in viewer_client.get(run.get_absolute_url()).content.decode()
    published = factories.published(name="greeter")
    Action.objects.update(
        status=Action.Status.SUCCEEDED, result="Published greeter.", outcome={"published": published.pk}
    )
    page = viewer_client.get(run.get_absolute_url()).content.decode()
    assert f'<a href="{published.get_absolute_url()}">open the published pipeline</a>' in page


def test_cancel_rejects_get(operator_client):
    run = factories.run(status=RunStatus.RUNNING)
    assert operator_client.get(reverse("runs:cancel", args=[run.pk])).status_code == 405


def test_a_failing_backend_is_shown_in_the_page_header(viewer_client):
    from dashboard.models import BackendState

    # By hand: the sync state a failed sync pass leaves (runs/sync.py), not a mirrored row; the header reads only it.
    BackendState.objects.create(name="azure-prod", healthy=False, last_error="unavailable: HTTP 503")

    page = viewer_client.get(reverse("runs:list")).content.decode()

    assert "backend azure-prod failing" in page and "unavailable: HTTP 503" in page


def test_the_publish_form_asks_for_its_own_fields_first_and_the_reason_last(viewer_client):
    run = factories.run(status=RunStatus.COMPLETED)

    page = viewer_client.get(run.get_absolute_url()).content.decode()
    form = page[page.index('action="' + reverse("runs:publish", args=[run.pk])) :].split("</form>")[0]

    names = [
        form.index(f'name="{n}"')
        for n in ("name", "description", "version", "continue_on_step_failure", "reason")
    ]
    assert names == sorted(names)
