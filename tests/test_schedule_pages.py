"""Schedule pages: the list in plain words with its filters and marks, one schedule, the week ahead, switching off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from backends.base import FireStatus
from dashboard.models import Action
from schedules.models import Schedule
from tests import factories

pytestmark = pytest.mark.django_db

EVERY_15 = {
    "type": "recurrence",
    "frequency": "minute",
    "interval": 15,
    "schedule": {},
    "time_zone": "UTC",
    "time_zone_name": "UTC",
    "start_time": "2026-01-01T00:00:00",
    "end_time": None,
}
WEEKDAYS = {
    "type": "recurrence",
    "frequency": "week",
    "interval": 1,
    "schedule": {
        "hours": [4],
        "minutes": [0, 30],
        "week_days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
    },
    "time_zone": "America/Los_Angeles",
    "time_zone_name": "Pacific Standard Time",
    "start_time": "2026-01-01T00:00:00",
    "end_time": None,
}


@pytest.fixture
def schedules():
    a = factories.schedule(external_id="quarter", trigger=EVERY_15, pipeline_id="train-model")
    b = factories.schedule(
        external_id="mornings",
        trigger=WEEKDAYS,
        pipeline_id="fan-out",
        enabled=False,
        description="prime counts",
    )
    now = timezone.now()
    for i, status in enumerate(["Completed", "Failed", "Completed"]):
        run = factories.run(
            external_id=f"q{i}",
            status=status,
            created_at=now,
            started_at=now - timedelta(minutes=10),
            finished_at=now - timedelta(minutes=10 - 2 * (i + 1)),
        )
        factories.fire(a, fire_time=now - timedelta(minutes=15 * (3 - i)), run=run)
    factories.fire(a, fire_time=now - timedelta(hours=2), status=FireStatus.SKIPPED, reason="missed")
    return a, b


def test_the_list_shows_each_schedule_in_plain_words_with_its_next_fire_and_outcomes(
    viewer_client, schedules
):
    page = viewer_client.get(reverse("schedules:list")).content.decode()
    assert "every 15 minutes" in page
    assert "weekdays at 04:00 and 04:30, Pacific time" in page
    assert page.count('class="mark ok"') == 2 and page.count('class="mark bad"') == 1
    assert ">Disable<" not in page and "Disable…" not in page  # a viewer may not switch schedules


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        ({"status": "enabled"}, {"quarter"}),
        ({"status": "disabled"}, {"mornings"}),
        ({"pipeline": "fan-out"}, {"mornings"}),
        ({"backend": "local"}, {"quarter", "mornings"}),
        ({"q": "prime"}, {"mornings"}),
        ({"backend": "azure"}, set()),
    ],
)
def test_the_list_filters(viewer_client, schedules, params, shown):
    response = viewer_client.get(reverse("schedules:list"), params)
    assert {s.name for s in response.context["schedules"]} == shown


def test_the_next_fire_is_shown_in_the_viewers_time_zone(viewer_client, schedules):
    viewer_client.cookies["tz"] = "Asia/Tokyo"
    page = viewer_client.get(reverse("schedules:list")).content.decode()
    assert "(Asia/Tokyo)" in page
    viewer_client.cookies["tz"] = "Not/AZone"
    assert viewer_client.get(reverse("schedules:list")).status_code == 200


def test_a_schedule_page_shows_definition_next_fires_history_success_rate_and_median(
    viewer_client, schedules
):
    response = viewer_client.get(reverse("schedules:detail", args=[schedules[0].pk]))
    page = response.content.decode()
    assert len(response.context["next_fires"]) == 10
    assert response.context["stats"]["success_rate"] == 67
    assert response.context["stats"]["median_duration"] == timedelta(minutes=4)
    assert "Skipped" in page and "missed" in page and "q1" in page


def test_a_disabled_schedule_has_no_next_fires(viewer_client, schedules):
    response = viewer_client.get(reverse("schedules:detail", args=[schedules[1].pk]))
    assert response.context["next_fires"] == [] and "the schedule is disabled" in response.content.decode()


def test_the_calendar_buckets_the_week_by_hour_and_shows_a_schedule_firing_more_often_as_one_band(
    viewer_client, schedules
):
    hourly = factories.schedule(name="hourly")  # every hour: a name in each cell
    response = viewer_client.get(reverse("schedules:calendar"))

    cells = [c for row in response.context["rows"] for c in row["cells"]]
    assert sum(c["total"] for c in cells) in range(7 * 24 - 1, 7 * 24 + 1)  # the hourly one, cell by cell
    assert {s.name for c in cells for s, _ in c["shown"]} == {hourly.name}
    (band,) = response.context["bands"]  # the every-15-minutes one: a band, so the others stay visible
    assert band["schedule"].name == "quarter" and band["count"] in range(7 * 24 * 4 - 4, 7 * 24 * 4 + 1)
    assert "every 15 minutes, all week" in response.content.decode()


def test_a_manager_disables_one_schedule_through_an_action(
    manager_client, schedules, django_capture_on_commit_callbacks
):
    page = manager_client.get(reverse("schedules:list")).content.decode()
    assert ">Disable<" in page and "Disable…" in page  # the controls a viewer is not shown

    with django_capture_on_commit_callbacks() as enqueued:
        manager_client.post(
            reverse("schedules:set_enabled", args=[schedules[0].pk]), {"enabled": "0", "reason": "holiday"}
        )
    action = Action.objects.get()
    assert (action.kind, action.target_id, action.reason) == ("disable_schedule", "quarter", "holiday")
    assert len(enqueued) == 1


def test_the_answer_to_disable_shows_disabling_and_follows_the_action_until_it_ends(
    manager_client, schedules
):
    quarter = schedules[0]
    listed = manager_client.post(
        reverse("schedules:set_enabled", args=[quarter.pk]),
        {"enabled": "0", "next": "/schedules/"},
        follow=True,
    ).content.decode()
    row = listed[listed.index(f'id="schedule-{quarter.pk}"') :].split("</tr>")[0]

    assert "Disabling…" in row and ">Disable<" not in row and "requested by manager" in row
    assert (
        'id="schedule-table" hx-get=' in listed and 'hx-trigger="every 2s"' in listed
    )  # it follows the action
    detail = manager_client.get(reverse("schedules:detail", args=[quarter.pk])).content.decode()
    assert (
        "Disabling…" in detail
        and 'id="schedule-title" hx-get=' in detail
        and ">Disable</button>" not in detail
    )

    # The action ends (as the worker would end it): the next poll shows the result, and polls no more.
    Action.objects.update(status=Action.Status.SUCCEEDED, result="quarter is Disabled.")
    Schedule.objects.filter(pk=quarter.pk).update(enabled=False)
    table = manager_client.get(reverse("schedules:list"), HTTP_HX_REQUEST="true").content.decode()
    row = table[table.index(f'id="schedule-{quarter.pk}"') :].split("</tr>")[0]
    assert ">Disabled<" in row and ">Enable<" in row and "hx-get" not in table.split("<table")[0]
    title = manager_client.get(reverse("schedules:detail", args=[quarter.pk]), HTTP_HX_REQUEST="true")
    assert ">Disabled<" in title.content.decode() and "hx-get" not in title.content.decode()


def test_bulk_shows_a_preview_then_makes_one_action_per_changing_schedule(
    manager_client, schedules, django_capture_on_commit_callbacks
):
    ids = [str(s.pk) for s in schedules]
    preview = manager_client.post(reverse("schedules:bulk"), {"ids": ids, "enabled": "0"})
    assert [s.name for s in preview.context["changing"]] == ["quarter"]
    assert [s.name for s in preview.context["unchanged"]] == ["mornings"]
    assert not Action.objects.exists()

    with django_capture_on_commit_callbacks():
        manager_client.post(
            reverse("schedules:bulk"), {"ids": ids, "enabled": "0", "confirm": "1", "reason": "freeze"}
        )

    assert list(Action.objects.values_list("target_id", "reason")) == [("quarter", "freeze")]


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_schedule_managers_switch_schedules(request, schedules, role):
    client = request.getfixturevalue(f"{role}_client")
    assert (
        client.post(reverse("schedules:set_enabled", args=[schedules[0].pk]), {"enabled": "0"}).status_code
        == 403
    )
    assert (
        client.post(
            reverse("schedules:bulk"), {"ids": [schedules[0].pk], "enabled": "0", "confirm": "1"}
        ).status_code
        == 403
    )
    assert not Action.objects.exists() and Schedule.objects.get(pk=schedules[0].pk).enabled


def test_an_unknown_schedule_is_a_404(viewer_client):
    assert viewer_client.get(reverse("schedules:detail", args=[999])).status_code == 404


def test_a_schedule_whose_target_is_missing_says_so_and_cannot_be_enabled(
    manager_client, django_capture_on_commit_callbacks
):
    schedule = factories.schedule(
        name="orphan", enabled=False, missing="published pipeline 'greeter' does not exist"
    )

    page = manager_client.get(reverse("schedules:detail", args=[schedule.pk])).content.decode()
    listed = manager_client.get(reverse("schedules:list")).content.decode()
    with django_capture_on_commit_callbacks():
        refused = manager_client.post(
            reverse("schedules:set_enabled", args=[schedule.pk]), {"enabled": "1"}, follow=True
        )
        preview = manager_client.post(reverse("schedules:bulk"), {"ids": [schedule.pk], "enabled": "1"})

    assert "This schedule cannot run: published pipeline &#x27;greeter&#x27; does not exist." in page
    assert ">Enable</button>" not in page and "cannot be enabled" in listed
    assert (
        "orphan cannot be enabled: published pipeline &#x27;greeter&#x27; does not exist."
        in refused.content.decode()
    )
    assert preview.context["changing"] == [] and [s.pk for s in preview.context["refused"]] == [schedule.pk]
    assert not Action.objects.exists()


def test_the_list_narrows_to_schedules_that_missed_a_fire_lately_or_fire_soon(viewer_client):
    now = timezone.now()
    missed = factories.schedule(name="missed-lately")
    factories.fire(missed, fire_time=now - timedelta(hours=3), status=FireStatus.SKIPPED)
    missed_long_ago = factories.schedule(name="missed-long-ago")
    factories.fire(missed_long_ago, fire_time=now - timedelta(hours=30), status=FireStatus.FAILED)
    later = (now + timedelta(days=3)).replace(tzinfo=None, microsecond=0).isoformat()
    factories.schedule(name="in-three-days", trigger={**EVERY_15, "start_time": later})

    def names(**params) -> list[str]:
        response = viewer_client.get(reverse("schedules:list"), params)
        return sorted(s.name for s in response.context["schedules"])

    assert names(missed_within="24") == ["missed-lately"]
    assert names(missed_within="48") == ["missed-lately", "missed-long-ago"]
    assert names(firing_within="6") == ["missed-lately", "missed-long-ago"]  # hourly
    assert names(firing_within="6", missed_within="24") == ["missed-lately"]
    for ignored in ("0", "-1", "169", "9" * 30, "x"):
        assert len(names(missed_within=ignored, firing_within=ignored)) == 3, ignored
