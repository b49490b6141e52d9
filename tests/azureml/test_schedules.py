"""Schedules (v2, through the SDK) and the v1 pipelines service's objects, read and switched off."""

from __future__ import annotations

import pytest

from backends import trigger_words, triggers
from backends.azureml import compose, demo
from backends.base import Conflict
from tests.azureml.conftest import azure_options

V1_PIPELINE = "9c1f69b7-fc1d-418b-86c0-93aa0193f79e"  # demo.py's published pipeline
DAILY = "v1:6a1b2c3d-0000-4000-8000-000000000001"
UPLOADS = "v1:6a1b2c3d-0000-4000-8000-000000000002"


def test_every_schedule_is_listed_enabled_or_not_with_its_trigger_in_plain_words(replay):
    backend = replay()

    schedules = {s.id: s for s in backend.list_schedules()}

    assert any("listViewType=All" in s.url for s in backend.workspace.recording.sent)  # not the SDK's default
    weekly, hourly = schedules[demo.SCHEDULE], schedules["hourly-refresh"]
    assert weekly.enabled and not hourly.enabled
    assert (
        weekly.trigger["time_zone"] == "America/Los_Angeles"
        and weekly.trigger["time_zone_name"] == "Pacific Standard Time"
    )
    assert (
        trigger_words.describe(weekly.trigger)
        == "every Monday at 10:15, Pacific time, until 2099-01-01 00:00"
    )
    assert (
        weekly.trigger["start_time"] == "2022-03-10T10:15:00" and weekly.pipeline_id == "hello_pipeline_abc"
    )
    assert hourly.trigger["type"] == "recurrence" and hourly.trigger["frequency"] == "hour"
    assert hourly.trigger["time_zone"] == "Europe/Berlin"
    assert triggers.validate(weekly.trigger) == [] and triggers.validate(hourly.trigger) == []


def test_v1_schedules_time_based_and_change_based_are_listed_beside_them(replay):
    schedules = {s.id: s for s in replay().list_schedules()}

    daily, uploads = schedules[DAILY], schedules[UPLOADS]
    assert daily.enabled and daily.published_pipeline_id == V1_PIPELINE and daily.experiment_name == "scoring"
    assert daily.trigger["frequency"] == "day" and daily.trigger["schedule"]["hours"] == [4]
    assert trigger_words.describe(daily.trigger) == "every day at 04:30, Pacific time"
    assert not uploads.enabled and uploads.trigger == {
        "type": "change",
        "path": "workspaceblobstore/incoming",
        "polling_interval": 5,
    }


def test_published_pipelines_and_endpoints_are_listed_with_version_status_and_url(replay):
    published = {p.id: p for p in replay().list_published_pipelines()}

    pipeline = published[V1_PIPELINE]
    assert (pipeline.name, pipeline.version, pipeline.status) == ("nightly-scoring", "3", "Active")
    assert pipeline.endpoint.endswith(f"/PipelineRuns/PipelineSubmit/{V1_PIPELINE}")
    assert pipeline.parameters == {"cutoff": {"type": "string", "default": "0.5", "optional": True}}
    endpoint = published["endpoint:0d7a5a64-2b3f-4a8e-8a51-3f6f1c2a9b10"]
    assert endpoint.name == "scoring-endpoint" and endpoint.pipeline_id == V1_PIPELINE


def test_a_workspace_without_v1_objects_shows_none_without_an_error(replay, workspace):
    workspace.entries = [e for e in workspace.entries if "/pipelines/v1.0/" not in e["RequestUri"]]
    for what in ("Pipelines", "PipelineEndpoints", "Schedules"):
        workspace.add("GET", workspace.v1(f"/{what}") + "?activeOnly=false", [], composed="test: none")
    backend = replay()

    assert backend.list_published_pipelines() == []
    assert [s.id for s in backend.list_schedules()] == [demo.SCHEDULE, "hourly-refresh"]


def test_disabling_a_v2_schedule_sends_it_back_disabled_as_the_sdk_does(configure_backends, tmp_path):
    # The recorded disable: GET, PUT (isEnabled false), the operation's status, GET.
    w = compose.Composer(subscription="00000000-0000-0000-0000-000000000")
    w.workspace_and_discovery()
    w.recorded_entries("schedule-lifetime.json", [5, 6, 7, 8])
    path = w.dump(tmp_path / "schedule.json")
    configure_backends({"azure": azure_options(path, subscription_id="00000000-0000-0000-0000-000000000")})
    from backends.registry import get_backend

    backend = get_backend("azure")

    info = backend.set_schedule_enabled(demo.SCHEDULE, False)

    assert not info.enabled and info.trigger["expression"] == "15 10 * * 1"
    sent = backend.workspace.recording.sent
    puts = [s for s in sent if s.method == "PUT"]
    assert len(puts) == 1 and puts[0].body["properties"]["isEnabled"] is False
    assert [s.method for s in sent if "/schedules/" in s.path] == ["GET", "PUT", "GET"]
    assert any("mfeOperationsStatus" in s.path for s in sent)


def test_a_published_pipeline_an_enabled_schedule_uses_cannot_be_disabled(replay):
    backend = replay()

    with pytest.raises(Conflict, match="used by enabled schedules: daily-scoring"):
        backend.set_published_pipeline_enabled(V1_PIPELINE, False)

    assert not [s for s in backend.workspace.recording.sent if s.method == "PUT"]


def test_disabling_a_published_pipeline_puts_its_new_status(replay, workspace):
    schedules = next(e for e in workspace.entries if e["RequestUri"].endswith("/Schedules?activeOnly=false"))
    for schedule in schedules["ResponseBody"]:
        schedule["EntityStatus"] = "Disabled"
    pipeline = next(e for e in workspace.entries if e["RequestUri"].endswith("/Pipelines?activeOnly=false"))
    disabled = {**pipeline["ResponseBody"][0], "EntityStatus": "Disabled"}
    workspace.add(
        "PUT", workspace.v1(f"/Pipelines/{V1_PIPELINE}/status"), None, composed="test: v1 status PUT"
    )
    workspace.add(
        "GET", workspace.v1(f"/Pipelines/{V1_PIPELINE}"), disabled, composed="test: v1 pipeline GET"
    )
    backend = replay()

    info = backend.set_published_pipeline_enabled(V1_PIPELINE, False)

    assert info.status == "Disabled"
    put = next(s for s in backend.workspace.recording.sent if s.method == "PUT")
    assert put.path.endswith(f"/pipelines/v1.0{workspace.path}/Pipelines/{V1_PIPELINE}/status")
    assert put.body == "Disabled"


def test_disabling_a_v1_schedule_puts_it_back_with_its_status_changed(replay, workspace):
    entity = next(e for e in workspace.entries if e["RequestUri"].endswith("/Schedules?activeOnly=false"))[
        "ResponseBody"
    ][0]
    schedule_id = entity["Id"]
    workspace.add("GET", workspace.v1(f"/Schedules/{schedule_id}"), entity, composed="test: v1 schedule GET")
    workspace.add(
        "PUT",
        workspace.v1(f"/Schedules/{schedule_id}"),
        {**entity, "EntityStatus": "Disabled"},
        composed="test: v1 schedule PUT",
    )
    backend = replay()

    info = backend.set_schedule_enabled(DAILY, False)

    assert not info.enabled and info.name == "daily-scoring"
    put = next(s for s in backend.workspace.recording.sent if s.method == "PUT")
    assert put.body == {**entity, "EntityStatus": "Disabled"}
