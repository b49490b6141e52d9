"""Hostile values get a clear 4xx, never a 500: ids, cursors, dates, zones, ``next`` and REST bodies, each parsed
in one place (dashboard/params.py, runs/api.py)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from backends.base import RunStatus
from runs.api import BadBody, parse_body
from runs.models import PipelineRun, PublishedPipeline
from runs.tokens import token_create
from tests import factories

pytestmark = pytest.mark.django_db
TOO_BIG = str(2**64)


@pytest.fixture
def run() -> PipelineRun:
    return factories.run(external_id="r1", status=RunStatus.RUNNING)


@pytest.fixture
def reader(viewer_client):
    return viewer_client


UNICODE_DIGITS = ["²", "\u0661", "1,²,3"]  # digits str.isdigit accepts and int() refuses


@pytest.mark.parametrize("ids", [*UNICODE_DIGITS, TOO_BIG, f"1,{TOO_BIG}", "-1", "1e3", "0x1"])
def test_ids_a_poll_sends_that_are_not_ids_are_left_out(reader, run, ids):
    response = reader.get(reverse("runs:changes"), {"ids": ids, "since": "0"})
    assert response.status_code in (200, 286)


@pytest.mark.parametrize(
    "cursor",
    [
        f"{TOO_BIG}_1",
        f"1_{TOO_BIG}",
        "²_1",
        f"created_{TOO_BIG}_1",
        "duration_1e999_1",
        "created_-" + TOO_BIG + "_1",
    ],
)
def test_a_cursor_beyond_64_bits_or_not_digits_is_the_first_page_and_says_so(reader, run, cursor):
    runs = reader.get(reverse("runs:list"), {"cursor": cursor})
    actions = reader.get(reverse("action_list"), {"cursor": cursor})
    assert runs.status_code == 200 and actions.status_code == 200


@pytest.mark.parametrize("pk", [TOO_BIG, "9223372036854775808", "0"])
def test_a_primary_key_beyond_what_a_database_holds_is_a_404(reader, pk):
    for path in (
        f"/runs/{pk}/",
        f"/runs/{pk}/steps/a/logs/stdout/",
        f"/pipelines/{pk}/",
        f"/schedules/{pk}/",
        f"/actions/{pk}/",
        f"/published/{pk}/",
    ):
        assert reader.get(path).status_code == 404, path


@pytest.mark.parametrize(
    "zone", ["America", "Europe", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "x" * 300, "Etc", "%00"]
)
def test_a_time_zone_cookie_that_is_not_a_zone_shows_utc(reader, run, zone):
    reader.cookies["tz"] = zone
    for name in ("runs:list", "schedules:list", "schedules:calendar", "action_list"):
        assert reader.get(reverse(name)).status_code == 200, name


def test_a_date_filter_at_the_end_of_time_in_a_zone_ahead_of_utc_is_a_message_beside_the_field(reader, run):
    reader.cookies["tz"] = "Pacific/Kiritimati"  # UTC+14
    for raw in ("9999-12-31", "9999-12-31 23:59", "0001-01-01", "0001-01-01 00:00+14:00"):
        response = reader.get(reverse("runs:list"), {"created_before": raw, "created_after": raw})
        assert response.status_code == 200 and "out of the range of dates" in response.content.decode(), raw


@pytest.mark.parametrize(
    "target",
    [
        "https://elsewhere.example/",
        "//elsewhere.example/x",
        "/nowhere/at/all",
        "javascript:alert(1)",
        "/runs/\n/",
    ],
)
def test_next_goes_only_to_a_page_of_this_site(operator_client, run, target):
    response = operator_client.post(
        reverse("runs:bulk_cancel"), {"ids": [run.pk], "confirm": "1", "next": target}
    )

    assert response.status_code == 302 and response["Location"] == reverse("runs:list")


def test_next_to_a_page_of_this_site_is_followed(operator_client, run):
    target = reverse("runs:list") + "?status=Running"

    response = operator_client.post(
        reverse("runs:bulk_cancel"), {"ids": [run.pk], "confirm": "1", "next": target}
    )

    assert response["Location"] == target


# --- the REST endpoint's body ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"ParameterAssignments": {"epochs": 1e999}}', "numbers must be finite"),
        (b'{"ParameterAssignments": {"epochs": NaN}}', "numbers must be finite"),
        (b'{"ParameterAssignments": {"epochs": -Infinity}}', "numbers must be finite"),
        (b"[" * 5000 + b"]" * 5000, "nests deeper than 8 levels"),
        (b'{"a": ' * 5000 + b"1" + b"}" * 5000, "nests deeper than 8 levels"),
        (json.dumps({"ExperimentName": "x" * 256}).encode(), "ExperimentName is longer than 255 characters"),
        (json.dumps({"ExperimentName": "a\x00b"}).encode(), "ExperimentName holds control characters"),
        (
            json.dumps({"ParameterAssignments": {"x": {"nested": 1}}}).encode(),
            "ParameterAssignments.x must be a string",
        ),
        (
            json.dumps({"ParameterAssignments": {"x": 2**70}}).encode(),
            "ParameterAssignments.x is beyond the range",
        ),
        (
            json.dumps({"ParameterAssignments": {"x": "y" * 5000}}).encode(),
            "ParameterAssignments.x is longer than 4096",
        ),
        (b" " * (65 * 1024), "larger than 64 KB"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_a_hostile_body_is_refused_naming_what_is_wrong(raw, says):
    with pytest.raises(BadBody, match=says):
        parse_body(raw)


def test_the_endpoint_answers_a_hostile_body_with_a_400_or_413(client, operator):
    published = factories.published(
        external_id="p1", name="greeter", parameters={"epochs": {"type": "integer"}}
    )
    secret = token_create(published=PublishedPipeline.objects.get(pk=published.pk), user=operator, name="ci")[
        1
    ]
    url = reverse("api:published_runs", args=[published.pk])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    nested = client.post(url, data=b"[" * 5000 + b"]" * 5000, content_type="application/json", **headers)
    infinite = client.post(
        url, data=b'{"ParameterAssignments": {"epochs": 1e999}}', content_type="application/json", **headers
    )
    huge = client.post(url, data=b" " * (65 * 1024), content_type="application/json", **headers)

    assert nested.status_code == 400 and "nests deeper" in nested.json()["error"]
    assert infinite.status_code == 400 and "finite" in infinite.json()["error"]
    assert huge.status_code == 413


@pytest.mark.parametrize(
    "path, data",
    [
        ("/runs/", {"status": "a\x00b"}),
        ("/published/", {"backend": "\x00"}),
        ("/schedules/", {"pipeline": "\x00"}),
        ("/actions/", {"user": "\x00"}),
        ("/actions/", {"target\x00": "x"}),
        ("/runs/1/steps/a\x00b/logs/stdout/", {}),
    ],
)
def test_a_nul_anywhere_in_the_path_or_query_is_a_400_naming_where(reader, run, path, data):
    # PostgreSQL cannot hold NUL in text: reaching a query it was a 500 there.
    response = reader.get(path, data)

    assert response.status_code == 400
    assert "contains a NUL character" in response.content.decode()


def test_a_nul_in_a_form_or_a_cookie_is_a_400_and_changes_nothing(operator_client, run):
    response = operator_client.post(reverse("runs:cancel", args=[run.pk]), {"next": "/runs/\x00"})
    assert response.status_code == 400
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING

    operator_client.cookies["sessionid"] = "abc\x00def"
    assert operator_client.get("/runs/").status_code == 400
