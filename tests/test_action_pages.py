"""/actions/: the audit trail, filterable, linking each action to its target; never edited or deleted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dashboard.models import Action
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(operator, manager):
    run = factories.run(external_id="keen_lamp_1", display_name="Nightly")
    pub = factories.published(external_id="p1", name="greeter", version="2")
    return {
        "cancel": factories.action(
            target=run,
            user=operator,
            reason="bad data",
            status="succeeded",
            result="Cancel requested; the run is Canceled.",
            attempts=1,
        ),
        "failed": factories.action(
            target_id="gone_run_9",
            target_label="Gone",
            user=operator,
            status="failed",
            error="no run gone_run_9",
            attempts=1,
        ),
        "disable": factories.action(
            kind=Action.Kind.DISABLE_PUBLISHED, target=pub, user=manager, params={"enabled": False}
        ),
        "run": run,
        "pub": pub,
    }


def get_list(client, **params):
    return client.get(reverse("action_list"), params)


def test_it_lists_who_what_target_reason_status_attempts_error_and_times(viewer_client, trail):
    page = get_list(viewer_client).content.decode()
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
def test_it_filters_by_kind_user_status_and_target(viewer_client, trail, params, expected):
    shown = {a.pk for a in get_list(viewer_client, **params).context["actions"]}
    assert shown == {trail[name].pk for name in expected}


def test_each_action_links_to_its_target(viewer_client, trail):
    page = get_list(viewer_client).content.decode()
    assert f'href="{trail["run"].get_absolute_url()}"' in page
    assert f'href="{trail["pub"].get_absolute_url()}"' in page
    detail = viewer_client.get(reverse("action_detail", args=[trail["cancel"].pk])).content.decode()
    assert f'href="{trail["run"].get_absolute_url()}"' in detail and "bad data" in detail


def test_an_action_cannot_be_changed_or_deleted_over_http_not_even_by_a_superuser(
    viewer_client, operator_client, manager_client, superuser_client, trail
):
    url = reverse("action_detail", args=[trail["cancel"].pk])
    for client in (viewer_client, operator_client, manager_client, superuser_client):
        assert client.post(url, {"status": "failed"}).status_code == 405
        assert client.delete(url).status_code == 405
    assert Action.objects.get(pk=trail["cancel"].pk).status == "succeeded"


def test_an_unknown_action_is_a_404_page(viewer_client):
    assert viewer_client.get(reverse("action_detail", args=[424242])).status_code == 404


def test_the_list_pages_with_a_cursor_keeping_the_filters(viewer_client, operator):
    for i in range(55):
        factories.action(target_id=f"r{i}", user=operator)
    first = get_list(viewer_client, user="operator")
    assert len(first.context["actions"]) == 50 and "user=operator&amp;cursor=" in first.content.decode()
    second = get_list(viewer_client, user="operator", cursor=first.context["next_cursor"])
    assert len(second.context["actions"]) == 5


def test_a_broken_cursor_shows_the_newest_actions_with_a_message(viewer_client, trail):
    response = get_list(viewer_client, cursor="not-a-cursor")
    assert response.status_code == 200 and len(response.context["actions"]) == 3
    assert "not valid any more" in response.content.decode()


def test_each_target_is_named_with_its_id_and_backend_and_shown_as_it_is_now(viewer_client, trail):
    factories.run(external_id="keen_lamp_1", status="Canceled")  # the run went on after the action returned

    page = viewer_client.get(reverse("action_list")).content.decode()
    row = page[page.index(f'id="action-{trail["cancel"].pk}"') :].split("</tr>")[0]

    assert "Nightly" in row and "keen_lamp_1" in row and "run on local" in row
    assert "Run now:" in row and ">Canceled</span>" in row
    gone = page[page.index(f'id="action-{trail["failed"].pk}"') :].split("</tr>")[0]
    assert "Run no longer mirrored" in gone


def test_an_action_under_way_is_followed_live_on_its_page(viewer_client, trail):
    pending = viewer_client.get(reverse("action_detail", args=[trail["disable"].pk])).content.decode()
    assert 'id="action-live" hx-get=' in pending and "Disabling…" in pending

    Action.objects.filter(pk=trail["disable"].pk).update(status="succeeded", result="greeter is Disabled.")
    done = viewer_client.get(reverse("action_detail", args=[trail["disable"].pk]), HTTP_HX_REQUEST="true")
    assert "hx-get" not in done.content.decode() and "greeter is Disabled." in done.content.decode()
