"""Publish a run's pipeline, then submit it over REST with a bearer token: the local engine, a real worker."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from backends.base import RunStatus
from dashboard.models import Action
from runs.actions import published_set_enabled, run_publish
from runs.models import ApiToken, PipelineRun, PublishedPipeline
from runs.sync import sync_run
from runs.tokens import token_create
from tests import factories
from tests.integration.helpers import PIPELINES, steps_by_node, submit, wait_for, wait_for_status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def published(celery_worker, operator):
    run_id = submit(PIPELINES / "two_steps.yml", greeting="published")
    wait_for_status(run_id, set(RunStatus.TERMINAL))
    run = sync_run("local", run_id)
    with transaction.atomic():
        action = run_publish(
            run=run,
            user=operator,
            name="greeter",
            description="says hello",
            version="1.0",
            continue_on_step_failure=True,
        )
    action = finished(action)
    assert action.status == Action.Status.SUCCEEDED, action.error
    return PublishedPipeline.objects.get(pk=action.outcome["published"])


@pytest.fixture
def token(published, operator):
    return token_create(published=published, user=operator, name="ci job")[1]


def finished(action: Action) -> Action:
    """The action once the worker has carried it out."""
    return wait_for(
        lambda: Action.objects.filter(pk=action.pk, status__in=list(Action.FINISHED)).first(),
        what=f"action {action.pk} to finish",
    )


def call(client, published, token=None, body=None, raw=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = raw if raw is not None else json.dumps(body if body is not None else {})
    return client.post(
        reverse("api:published_runs", args=[published.pk]),
        data=data,
        content_type="application/json",
        **headers,
    )


def test_publishing_keeps_a_snapshot_with_its_name_version_and_source(published, operator):
    assert (published.name, published.version, published.description) == ("greeter", "1.0", "says hello")
    assert published.status == "Active" and published.continue_on_step_failure
    assert published.published_by == "operator"
    assert published.source_run.status == RunStatus.COMPLETED
    assert published.parameters["greeting"]["type"] == "string"
    assert published.parameters["greeting"]["default"] == "published"


def test_a_token_submits_a_run_and_gets_201_with_its_id_and_url(client, published, token):
    response = call(
        client, published, token, {"ExperimentName": "from-ci", "ParameterAssignments": {"greeting": "hi"}}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    run = PipelineRun.objects.get(external_id=body["Id"])
    assert body["Url"].endswith(run.get_absolute_url())
    assert run.published_pipeline == published and run.experiment_name == "from-ci"
    assert wait_for_status(body["Id"], set(RunStatus.TERMINAL)) == RunStatus.COMPLETED
    assert steps_by_node(body["Id"])["read"].status == RunStatus.COMPLETED
    action = Action.objects.get(kind=Action.Kind.SUBMIT_PUBLISHED)
    assert action.status == Action.Status.SUCCEEDED and action.requested_by.username == "operator"
    assert ApiToken.objects.get().last_used_at is not None


def test_the_published_page_lists_its_runs_and_endpoint(client, viewer_client, published, token):
    run_id = call(client, published, token).json()["Id"]

    page = viewer_client.get(published.get_absolute_url()).content.decode()

    assert run_id in page
    assert f"/api/published/{published.pk}/runs" in page
    listing = viewer_client.get(reverse("runs:published_list")).content.decode()
    assert "greeter" in listing and "1.0" in listing


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic dXNlcjpwYXNz", "Bearer "])
def test_a_missing_or_bad_token_is_a_401(client, published, header):
    headers = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post(
        reverse("api:published_runs", args=[published.pk]),
        data="{}",
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 401 and "WWW-Authenticate" in response
    assert not PipelineRun.objects.filter(published_pipeline=published).exists()


def test_a_revoked_token_is_a_401(client, published, token, operator):
    ApiToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    assert call(client, published, token).status_code == 401


def test_a_token_works_only_for_its_own_published_pipeline(client, published, token):
    other = factories.published(external_id="other", name="other")
    assert call(client, other, token).status_code == 401


def test_a_token_whose_owner_lost_the_role_is_a_403(client, published, token, operator):
    operator.groups.clear()
    assert call(client, published, token).status_code == 403


def test_a_disabled_published_pipeline_answers_409_saying_so(client, published, token, manager):
    with transaction.atomic():
        action = published_set_enabled(published=published, user=manager, enabled=False, reason="paused")
    finished(action)
    published.refresh_from_db()
    assert published.status == "Disabled"

    response = call(client, published, token)

    assert response.status_code == 409 and "disabled" in response.json()["error"]


def test_an_unknown_parameter_is_a_400_that_names_it(client, published, token):
    response = call(client, published, token, {"ParameterAssignments": {"greeting": "x", "colour": "red"}})
    assert response.status_code == 400 and "colour" in response.json()["error"]


def test_a_parameter_of_the_wrong_type_is_a_400_that_names_it(client, tmp_path, celery_worker, operator):
    typed = tmp_path / "typed.yml"
    typed.write_text(
        "type: pipeline\ninputs:\n  epochs: {type: integer, default: 3}\njobs:\n"
        "  train:\n    command: echo ${{inputs.epochs}}\n    inputs:\n      epochs: ${{parent.inputs.epochs}}\n"
    )
    run_id = submit(typed)
    wait_for_status(run_id, set(RunStatus.TERMINAL))
    with transaction.atomic():
        action = run_publish(run=sync_run("local", run_id), user=operator, name="typed")
    finished(action)
    published = PublishedPipeline.objects.get(name="typed")
    token = token_create(published=published, user=operator, name="t")[1]

    response = call(client, published, token, {"ParameterAssignments": {"epochs": "many"}})

    assert response.status_code == 400 and "epochs" in response.json()["error"]
    # The backend's message names the pipeline file; the API client gets its name, not where it is on the server.
    assert "typed.yml" in response.json()["error"] and str(tmp_path) not in response.json()["error"]
    assert not PipelineRun.objects.filter(published_pipeline=published).exists()


@pytest.mark.parametrize(
    "raw", ["{not json", "[1, 2]", '{"ParameterAssignments": [1]}', '{"ExperimentName": 5}']
)
def test_a_malformed_body_is_a_400(client, published, token, raw):
    assert call(client, published, token, raw=raw).status_code == 400


def test_tokens_are_stored_hashed_shown_once_and_listed_with_their_last_use(
    client, operator_client, published
):
    url = reverse("runs:token_create", args=[published.pk])

    response = operator_client.post(url, {"name": "nightly"}, follow=True)

    secret = response.context["new_secret"]
    assert response.redirect_chain[0][1] == 302 and secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    stored = ApiToken.objects.get(name="nightly")
    assert secret not in (stored.digest, stored.prefix) and len(stored.digest) == 64
    page = operator_client.get(published.get_absolute_url()).content.decode()
    assert secret not in page and stored.prefix in page and "<td>never</td>" in token_row(page, stored)
    call(client, published, secret)
    stored.refresh_from_db()
    row = token_row(operator_client.get(published.get_absolute_url()).content.decode(), stored)
    assert stored.last_used_at is not None and "never" not in row
    assert timezone.localtime(stored.last_used_at).strftime("%Y-%m-%d %H:%M:%S") in row


def token_row(page: str, token: ApiToken) -> str:
    start = page.index(f'<tr id="token-{token.pk}">')
    return page[start : page.index("</tr>", start)]


def test_revoking_a_token_stops_it(client, operator_client, published, token):
    stored = ApiToken.objects.get()
    operator_client.post(reverse("runs:token_revoke", args=[published.pk, stored.pk]))

    assert call(client, published, token).status_code == 401
    assert "revoked" in operator_client.get(published.get_absolute_url()).content.decode()
