"""Every role against every action: allowed ones record an Action that reaches the backend; forbidden ones
get a 403 and change nothing (no Action, no token, no backend call, no mirror change).

Objects with an owner: tokens are owned (a user acts on their own, managers on all); runs and published
pipelines are not (see MATRIX); actions are an audit trail that no one changes."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse

from backends.base import PipelineInput
from dashboard.actions import action_perform
from dashboard.models import Action
from runs.models import ApiToken, Pipeline, PipelineRun, PublishedPipeline
from runs.tokens import token_create
from tests import factories
from tests.conftest import make_user
from tests.fakes import RecordingBackend

pytestmark = pytest.mark.django_db

ROLES = ["stranger", "viewer", "operator", "schedule-manager", "superuser"]
# role -> the fixtures (tests/conftest.py) of its user and of a client logged in as that user
USERS = {
    "stranger": ("stranger", "stranger_client"),
    "viewer": ("viewer", "viewer_client"),
    "operator": ("operator", "operator_client"),
    "schedule-manager": ("manager", "manager_client"),
    "superuser": ("admin_user", "superuser_client"),
}
# action -> the roles allowed to do it
MATRIX = {
    # Runs are not owned: cancelling and resubmitting are an operator's rights over every run, so the run here
    # was submitted by someone else and only the role decides.
    "cancel": {"operator", "superuser"},
    "resubmit": {"operator", "superuser"},
    "publish": {"viewer", "operator", "schedule-manager", "superuser"},
    # Published pipelines are not owned either: published_by only records who published one. The ones here
    # were published by someone else, and only the role decides who switches them, submits or makes tokens.
    "disable_published": {"schedule-manager", "superuser"},
    "enable_published": {"schedule-manager", "superuser"},
    "submit_published": {"operator", "superuser"},
    # Pipelines are not owned: starting one from its page is an operator's right over every pipeline.
    "submit_pipeline": {"operator", "superuser"},
    "create_token": {"operator", "superuser"},
    # Tokens are owned: a token submits runs as the user who made it. They revoke it, and so does anyone who
    # manages every token (schedule managers, superusers); another operator may not.
    "revoke_own_token": {"operator", "schedule-manager", "superuser"},
    "revoke_others_token": {"schedule-manager", "superuser"},
}
READ_PAGES = ["home", "runs:list", "runs:published_list", "action_list", "environment_list"]
EXPECTED_CALL = {
    "cancel": "cancel_run",
    "resubmit": "resubmit_run",
    "publish": "publish_pipeline",
    "disable_published": "set_published_pipeline_enabled",
    "enable_published": "set_published_pipeline_enabled",
    "submit_published": "submit_run",
    "submit_pipeline": "submit_run",
}


@pytest.fixture
def world(configure_backends, django_user_model):
    configure_backends({"rec": {"engine": "tests.fakes.RecordingBackend"}})
    RecordingBackend.calls = []
    # Runs and published pipelines are not owned: any operator acts on them. They are someone else's here.
    run = factories.run(
        backend="rec", external_id="run-1", status="Running", display_name="r", submitted_by="someone-else"
    )
    active = factories.published(backend="rec", external_id="pub-a", name="a", published_by="someone-else")
    disabled = factories.published(
        backend="rec", external_id="pub-d", name="d", status="Disabled", published_by="someone-else"
    )
    pipeline = factories.pipeline(
        backend="rec",
        external_id="train",
        inputs=(PipelineInput("epochs", "integer", default=3, required=True),),
    )
    owner = make_user(django_user_model, "token-owner", "operator")
    token, _ = token_create(published=active, user=owner, name="ci")
    return {
        "run": run,
        "active": active,
        "disabled": disabled,
        "pipeline": pipeline,
        "token": token,
        "owner": owner,
    }


def _user(role: str, request):
    return request.getfixturevalue(USERS[role][0])


def _client(role: str, request):
    return request.getfixturevalue(USERS[role][1])


def _request(client, action: str, w: dict):
    run, active, disabled = w["run"], w["active"], w["disabled"]
    posts = {
        "cancel": (reverse("runs:cancel", args=[run.pk]), {"reason": "r"}),
        "resubmit": (reverse("runs:resubmit", args=[run.pk]), {"mode": "all"}),
        "publish": (reverse("runs:publish", args=[run.pk]), {"name": "nightly", "version": "1"}),
        "disable_published": (reverse("runs:published_set_enabled", args=[active.pk]), {"enabled": "0"}),
        "enable_published": (reverse("runs:published_set_enabled", args=[disabled.pk]), {"enabled": "1"}),
        "submit_published": (reverse("runs:published_submit", args=[active.pk]), {"experiment": "e"}),
        "submit_pipeline": (
            reverse("runs:pipeline_submit", args=[w["pipeline"].pk]),
            {"input_epochs": "4", "experiment": "e", "tags": "team=vision"},
        ),
        "create_token": (reverse("runs:token_create", args=[active.pk]), {"name": "new"}),
        "revoke_own_token": (reverse("runs:token_revoke", args=[active.pk, w["own_token"].pk]), {}),
        "revoke_others_token": (reverse("runs:token_revoke", args=[active.pk, w["token"].pk]), {}),
    }
    url, data = posts[action]
    return client.post(url, data)


def _snapshot(w: dict) -> tuple:
    return (
        list(PipelineRun.objects.order_by("pk").values_list("pk", "status")),
        list(Pipeline.objects.order_by("pk").values_list("pk", "inputs")),
        list(PublishedPipeline.objects.order_by("pk").values_list("pk", "status")),
        list(ApiToken.objects.order_by("pk").values_list("pk", "revoked_at")),
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(MATRIX))
def test_the_role_matrix(role, action, world, request, django_capture_on_commit_callbacks):
    user = _user(role, request)
    # Made while the user held a role that makes tokens: what they may do with it now depends on their role.
    world["own_token"], _ = token_create(published=world["active"], user=user, name="mine")
    client = _client(role, request)
    before = _snapshot(world)

    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        response = _request(client, action, world)

    if role not in MATRIX[action]:
        assert response.status_code == 403
        assert "Nothing was changed" in response.content.decode()
        assert not Action.objects.exists() and enqueued == []
        assert _snapshot(world) == before
        assert RecordingBackend.calls == []
        return
    assert response.status_code == 302
    if action in EXPECTED_CALL:
        action_row = Action.objects.get()
        assert action_row.requested_by == _user(role, request) and len(enqueued) == 1
        assert action_perform(action_row.pk).status == Action.Status.SUCCEEDED
        assert [c[0] for c in RecordingBackend.calls if c[0] != "get_run"] == [EXPECTED_CALL[action]]
    elif action == "create_token":
        assert ApiToken.objects.filter(name="new").exists()
    else:
        revoked = world["own_token"] if action == "revoke_own_token" else world["token"]
        assert list(ApiToken.objects.filter(revoked_at__isnull=False)) == [revoked]
        assert ApiToken.objects.get(pk=revoked.pk).revoked_by == user


@pytest.mark.parametrize("role", ROLES)
def test_reading_needs_a_role(role, world, request):
    client = _client(role, request)
    pages = [reverse(name) for name in READ_PAGES] + [
        world["run"].get_absolute_url(),
        world["pipeline"].get_absolute_url(),
        world["active"].get_absolute_url(),
    ]
    for url in pages:
        assert client.get(url).status_code == (403 if role == "stranger" else 200), url


def test_the_migration_made_the_three_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= {"viewer", "operator", "schedule-manager"}


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        ("viewer", ["Publish this pipeline"], ["Cancel run", "Resubmit"]),
        ("operator", ["Cancel run", "Publish this pipeline"], []),
        ("schedule-manager", ["Publish this pipeline"], ["Cancel run", "Resubmit"]),
    ],
)
def test_controls_a_user_may_not_use_are_not_shown(role, shown, hidden, world, request):
    client = _client(role, request)
    page = client.get(world["run"].get_absolute_url()).content.decode()
    for text in shown:
        assert text in page
    for text in hidden:
        assert text not in page


@pytest.mark.parametrize(
    ("role", "sees_form"),
    [("viewer", False), ("operator", True), ("schedule-manager", False), ("superuser", True)],
)
def test_only_those_who_may_start_a_pipeline_see_its_submit_form(role, sees_form, world, request):
    page = _client(role, request).get(world["pipeline"].get_absolute_url()).content.decode()

    assert ("Submit a run" in page) is sees_form
    assert ('name="input_epochs"' in page) is sees_form


@pytest.mark.parametrize(
    ("role", "sees_tokens", "sees_disable"),
    [
        ("viewer", False, False),
        ("operator", True, False),
        ("schedule-manager", False, True),
    ],
)
def test_published_page_controls_follow_the_role(role, sees_tokens, sees_disable, world, request):
    client = _client(role, request)
    page = client.get(world["active"].get_absolute_url()).content.decode()
    assert ("Create token" in page) is sees_tokens
    assert (">Disable<" in page) is sees_disable


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("viewer", set()),
        ("operator", {"mine"}),
        ("schedule-manager", {"mine", "ci"}),
        ("superuser", {"mine", "ci"}),
    ],
)
def test_a_user_sees_only_their_own_tokens_and_managers_see_everyones_by_owner(role, sees, world, request):
    user = _user(role, request)
    token_create(published=world["active"], user=user, name="mine")
    client = _client(role, request)

    response = client.get(world["active"].get_absolute_url())

    page = response.content.decode()
    assert {token.name for token in response.context["tokens"]} == sees
    assert (world["token"].prefix in page) is ("ci" in sees)
    if "ci" in sees:
        assert '<td class="owner">token-owner</td>' in page
        assert f'<td class="owner">{user.username}</td>' in page
    else:
        assert "token-owner" not in page and "<th>Owner</th>" not in page


def test_a_manager_revoking_someone_elses_token_is_named_on_the_owners_page(world, client, manager_client):
    manager_client.post(reverse("runs:token_revoke", args=[world["active"].pk, world["token"].pk]))

    client.force_login(world["owner"])
    page = client.get(world["active"].get_absolute_url()).content.decode()

    assert "by manager" in page


@pytest.mark.parametrize("role", ROLES)
def test_no_one_changes_or_cancels_an_action_someone_else_requested(role, world, request):
    # Actions are an audit trail: every role that reads it reads all of it, and no page or admin form edits it.
    action = Action.objects.create(
        kind=Action.Kind.CANCEL_RUN,
        backend="rec",
        target_type="run",
        target_id="run-1",
        requested_by=world["owner"],
    )
    client = _client(role, request)
    before = list(Action.objects.values())

    for url in (reverse("action_detail", args=[action.pk]), reverse("action_list")):
        for send in (client.post, client.put, client.patch, client.delete):
            assert send(url, {"status": "failed"}).status_code == 405, (send.__name__, url)

    assert list(Action.objects.values()) == before
    assert not admin.site.is_registered(Action)
