"""/actions/: the audit trail, filterable, linking each action to its target; never edited or deleted."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.models import Action
from runs.models import PipelineRun, PublishedPipeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(admin_user, operator, manager):
    run = PipelineRun.objects.create(
        backend="local", external_id="keen_lamp_1", display_name="Nightly", created_at=timezone.now()
    )
    pub = PublishedPipeline.objects.create(backend="local", external_id="p1", name="greeter", version="2")

    def act(kind, user, target_type, target_id, label, status, **extra):
        return Action.objects.create(
            kind=kind,
            backend="local",
            target_type=target_type,
            target_id=target_id,
            target_label=label,
            requested_by=user,
            status=status,
            **extra,
        )

    return {
        "cancel": act(
            "cancel_run",
            operator,
            "run",
            run.external_id,
            "Nightly",
            "succeeded",
            reason="bad data",
            result="Cancel requested; the run is Canceled.",
            attempts=1,
        ),
        "failed": act(
            "cancel_run",
            operator,
            "run",
            "gone_run_9",
            "Gone",
            "failed",
            error="no run gone_run_9",
            attempts=1,
        ),
        "disable": act("disable_published", manager, "published", pub.external_id, "greeter 2", "pending"),
        "run": run,
        "pub": pub,
    }


def get_list(client, **params):
    return client.get(reverse("action_list"), params)


def test_it_lists_who_what_target_reason_status_attempts_error_and_times(client, admin_user, trail):
    client.force_login(admin_user)
    page = get_list(client).content.decode()
    for text in [
        "operator",
        "Cancel run",
        "Nightly",
        "bad data",
        "Succeeded",
        "no run gone_run_9",
        "Disable published pipeline",
    ]:
        assert text in page


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "cancel_run"}, {"cancel", "failed"}),
        ({"status": "failed"}, {"failed"}),
        ({"user": "manager"}, {"disable"}),
        ({"target": "keen_lamp"}, {"cancel"}),
        ({"target": "greeter"}, {"disable"}),
        ({"kind": "cancel_run", "status": "succeeded", "user": "operator"}, {"cancel"}),
    ],
)
def test_it_filters_by_kind_user_status_and_target(client, admin_user, trail, params, expected):
    client.force_login(admin_user)
    shown = {a.pk for a in get_list(client, **params).context["actions"]}
    assert shown == {trail[name].pk for name in expected}


def test_each_action_links_to_its_target(client, admin_user, trail):
    client.force_login(admin_user)
    page = get_list(client).content.decode()
    assert f'href="{trail["run"].get_absolute_url()}"' in page
    assert f'href="{trail["pub"].get_absolute_url()}"' in page
    detail = client.get(reverse("action_detail", args=[trail["cancel"].pk])).content.decode()
    assert f'href="{trail["run"].get_absolute_url()}"' in detail and "bad data" in detail


def test_an_action_cannot_be_changed_or_deleted_over_http(client, admin_user, trail):
    client.force_login(admin_user)
    url = reverse("action_detail", args=[trail["cancel"].pk])
    assert client.post(url, {"status": "failed"}).status_code == 405
    assert client.delete(url).status_code == 405
    assert Action.objects.get(pk=trail["cancel"].pk).status == "succeeded"


def test_an_unknown_action_is_a_404_page(client, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse("action_detail", args=[424242])).status_code == 404


def test_the_list_pages_with_a_cursor_keeping_the_filters(client, admin_user, operator):
    for i in range(55):
        Action.objects.create(
            kind="cancel_run", backend="local", target_type="run", target_id=f"r{i}", requested_by=operator
        )
    client.force_login(admin_user)
    first = get_list(client, user="operator")
    assert len(first.context["actions"]) == 50 and "user=operator&amp;cursor=" in first.content.decode()
    second = get_list(client, user="operator", cursor=first.context["next_cursor"])
    assert len(second.context["actions"]) == 5


def test_a_broken_cursor_shows_the_newest_actions_with_a_message(client, admin_user, trail):
    client.force_login(admin_user)
    response = get_list(client, cursor="not-a-cursor")
    assert response.status_code == 200 and len(response.context["actions"]) == 3
    assert "not valid any more" in response.content.decode()
