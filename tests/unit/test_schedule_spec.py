"""The local engine's loader for schedule YAML (backends/local/schedule_spec.py); no Django needed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backends.local.schedule_spec import ScheduleSpec, load_schedule
from backends.local.spec import SpecError
from backends.trigger_words import describe

SCHEDULES = Path(__file__).parent / "schedules"
EXAMPLES = Path(__file__).parents[2] / "examples"
NOW = datetime(2026, 5, 1, 12, 7, 42, tzinfo=UTC)


def problems_in(path: Path | str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_schedule(path, NOW)
    return [str(problem) for problem in caught.value.problems]


def write(tmp_path: Path, text: str, name: str = "schedule.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def v2(trigger: str, create_job: str = "create_job: ./pipeline.yml") -> str:
    return f"name: s\ntrigger:\n{trigger}\n{create_job}\n"


@pytest.fixture
def pipeline_dir(tmp_path: Path) -> Path:
    """A folder with the test pipeline (and its data) next to where schedules are written."""
    (tmp_path / "data").mkdir()
    for name in ("pipeline.yml", "data/rows.csv", "data/other.csv"):
        (tmp_path / name).write_text((SCHEDULES / name).read_text())
    return tmp_path


# --- the examples -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("every-15-minutes.yml", "every 15 minutes"),
        ("weekday-mornings.yml", "weekdays at 04:00 and 04:30, Pacific time"),
        ("nightly-cron.yml", "every day at 02:30, W. Europe time"),
        ("v1-daily-retrain.yml", "every day at 04:30, Pacific time"),
        ("v1-on-new-data.yml", "when a file is added or changed in"),
    ],
)
def test_each_example_schedule_loads(name: str, words: str) -> None:
    spec = load_schedule(EXAMPLES / "schedules" / name, NOW)

    assert describe(spec.trigger).startswith(words)
    assert json.loads(json.dumps(spec.to_dict())) == spec.to_dict()


def test_the_15_minute_example_overrides_the_train_models_epochs() -> None:
    spec = load_schedule(EXAMPLES / "schedules" / "every-15-minutes.yml", NOW)

    assert (spec.form, spec.enabled, spec.published) == ("v2", True, "")
    assert spec.pipeline.path == str(EXAMPLES / "train-model" / "pipeline.yml")
    assert spec.pipeline.inputs["epochs"].default == 100
    assert spec.pipeline.inputs["learning_rate"].default == 0.1  # untouched
    assert spec.experiment_name == spec.pipeline.experiment_name == "house-prices-scheduled"
    assert spec.pipeline.tags == {"example": "runboard", "scheduled": "true"}
    assert spec.trigger["frequency"] == "minute" and spec.trigger["interval"] == 15


def test_the_nightly_example_runs_the_pipeline_file_unchanged_in_berlin_time() -> None:
    spec = load_schedule(EXAMPLES / "schedules" / "nightly-cron.yml", NOW)

    assert spec.trigger["time_zone"] == "Europe/Berlin"
    assert spec.trigger["time_zone_name"] == "W. Europe Standard Time"
    assert spec.pipeline.inputs["epochs"].default == 300
    assert spec.continue_on_step_failure is None and spec.parameters == {}


def test_the_v1_daily_example_turns_time_of_day_into_hours_and_minutes() -> None:
    spec = load_schedule(EXAMPLES / "schedules" / "v1-daily-retrain.yml", NOW)

    assert spec.form == "v1"
    assert spec.trigger["schedule"] == {"hours": [4], "minutes": [30], "week_days": [], "month_days": []}
    assert spec.trigger["frequency"] == "day" and spec.trigger["time_zone"] == "America/Los_Angeles"
    assert (spec.published, spec.experiment_name, spec.pipeline) == ("house-prices", "nightly-retrain", None)
    assert spec.parameters == {"epochs": 500}
    assert spec.continue_on_step_failure is False
    assert spec.enabled is False  # status: Disabled


def test_the_v1_change_example_watches_the_incoming_folder() -> None:
    spec = load_schedule(EXAMPLES / "schedules" / "v1-on-new-data.yml", NOW)

    assert spec.trigger == {
        "type": "change",
        "path": str(EXAMPLES / "schedules" / "incoming"),
        "polling_interval": 1,
    }
    assert spec.data_path_parameter_name == "houses"
    assert spec.enabled is False


# --- CLI v2 schedules ---------------------------------------------------------------------------------------


def test_it_applies_every_create_job_override() -> None:
    spec = load_schedule(SCHEDULES / "overrides.yml", NOW)
    pipeline = spec.pipeline

    assert (spec.name, spec.display_name, spec.tags, spec.enabled) == (
        "overrides",
        "Overrides",
        {"kind": "test"},
        False,
    )
    assert pipeline.display_name == "Scheduled test pipeline"
    assert spec.experiment_name == pipeline.experiment_name == "scheduled"
    assert pipeline.continue_on_step_failure is True and spec.continue_on_step_failure is True
    assert pipeline.force_rerun is True
    assert pipeline.default_compute == pipeline.jobs["echo"].compute == "azureml:gpu"
    assert pipeline.tags == {"owner": "tests", "scheduled": "yes"}
    assert pipeline.inputs["rate"].default == 0.5
    # A path is relative to the schedule file, as every path in it is.
    assert pipeline.inputs["data"].default == str(SCHEDULES / "data" / "other.csv")


def test_it_keeps_schedule_expressions_for_the_engine_to_fill_in() -> None:
    spec = load_schedule(SCHEDULES / "overrides.yml", NOW)

    assert spec.pipeline.inputs["label"].default == "run ${{name}} at ${{creation_context.trigger_time}}"
    assert spec.parameters == {}
    assert spec.run_parameters(datetime(2026, 5, 4, 0, 30, tzinfo=UTC), "overrides-20260504T003000Z") == {
        "label": "run overrides-20260504T003000Z at 2026-05-04T00:30:00Z"
    }


def test_it_moves_a_start_time_with_an_offset_onto_the_schedules_clock() -> None:
    spec = load_schedule(SCHEDULES / "overrides.yml", NOW)

    # 2026-01-01T00:00:00-05:00 is 05:00 UTC, 10:30 in India.
    assert spec.trigger["start_time"] == "2026-01-01T10:30:00"
    assert spec.trigger["end_time"] == "2027-01-01T00:00:00"
    assert spec.trigger["time_zone"] == "Asia/Calcutta"


def test_it_starts_a_schedule_without_start_time_now_to_the_minute_on_its_clock(pipeline_dir: Path) -> None:
    trigger = '  type: cron\n  expression: "0 4 * * *"\n  time_zone: "Pacific Standard Time"'
    spec = load_schedule(write(pipeline_dir, v2(trigger)), NOW)

    assert spec.trigger["start_time"] == "2026-05-01T05:07:00"  # 12:07:42 UTC is 05:07 PDT
    assert spec.trigger["end_time"] is None


def test_it_reads_single_values_and_unquoted_timestamps(pipeline_dir: Path) -> None:
    trigger = (
        "  type: recurrence\n  frequency: Week\n  interval: 2\n"
        "  schedule: {hours: 9, minutes: 15, week_days: Monday}\n"
        "  start_time: 2026-01-05T00:00:00\n  time_zone: UTC"
    )
    spec = load_schedule(write(pipeline_dir, v2(trigger)), NOW)

    assert spec.trigger == {
        "type": "recurrence",
        "frequency": "week",
        "interval": 2,
        "schedule": {"hours": [9], "minutes": [15], "week_days": ["monday"], "month_days": []},
        "time_zone": "UTC",
        "time_zone_name": "UTC",
        "start_time": "2026-01-05T00:00:00",
        "end_time": None,
    }


def test_it_round_trips_through_a_dict() -> None:
    for path in (SCHEDULES / "overrides.yml", EXAMPLES / "schedules" / "v1-on-new-data.yml"):
        spec = load_schedule(path, NOW)

        again = ScheduleSpec.from_dict(json.loads(json.dumps(spec.to_dict())))

        assert again == spec


# --- the v1 form --------------------------------------------------------------------------------------------


def test_it_reads_a_v1_recurrence_with_hours_and_minutes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: weekly\npipeline_id: 1f2e3d4c-0000-4000-8000-000000000000\nexperiment_name: weekly\n"
        "recurrence:\n  frequency: Week\n  interval: 1\n  hours: [4, 16]\n  week_days: [Monday, Friday]\n"
        "  time_zone: W. Europe Standard Time\n",
    )

    spec = load_schedule(path, NOW)

    assert spec.trigger["schedule"] == {
        "hours": [4, 16],
        "minutes": [0],  # on the hour when only hours are given
        "week_days": ["monday", "friday"],
        "month_days": [],
    }
    assert spec.enabled is True and spec.published == "1f2e3d4c-0000-4000-8000-000000000000"
    assert describe(spec.trigger) == "every Monday and Friday at 04:00 and 16:00, W. Europe time"


def test_it_records_the_watched_folder_of_a_v1_change_schedule(tmp_path: Path) -> None:
    (tmp_path / "store" / "houses").mkdir(parents=True)
    path = write(
        tmp_path,
        "name: on-new-data\npipeline_id: house-prices\nexperiment_name: new-data\n"
        "datastore: ./store\npath_on_datastore: houses\ndata_path_parameter_name: houses\n"
        "pipeline_parameters: {epochs: 50}\n",
    )

    spec = load_schedule(path, NOW)

    assert spec.trigger == {
        "type": "change",
        "path": str(tmp_path / "store" / "houses"),
        "polling_interval": 5,
    }
    assert spec.run_parameters(NOW, "on-new-data-1", changed_path="/x/new.csv") == {
        "epochs": 50,
        "houses": "/x/new.csv",
    }


# --- problems -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad_syntax.yml", ["bad_syntax.yml:6: yaml: invalid YAML: found unexpected end of stream"]),
        (
            "bad_unknown_key.yml",
            [
                "bad_unknown_key.yml:1: trigger: missing: a cron or recurrence trigger",
                "bad_unknown_key.yml:2: trigers: unknown key 'trigers' (did you mean 'trigger'?)",
            ],
        ),
        ("bad_trigger_type.yml", ["bad_trigger_type.yml:3: trigger.type: unknown trigger type 'hourly'"]),
        ("bad_cron.yml", ["bad_cron.yml:4: trigger.expression: '61 4 * * *' is not a valid cron expression"]),
        (
            "bad_cron_days.yml",
            ["bad_cron_days.yml:4: trigger.expression: '0 4 1 * *': Azure ML ignores the days"],
        ),
        (
            "bad_recurrence.yml",
            [
                "bad_recurrence.yml:4: trigger.frequency: expected one of minute, hour, day, week, month, got 'fortnight'",
                "bad_recurrence.yml:5: trigger.interval: expected a whole number, 1 or more, got 0",
                "bad_recurrence.yml:7: trigger.schedule.hours: expected whole numbers from 0 to 23, got 25",
                "bad_recurrence.yml:8: trigger.schedule.minutes: expected whole numbers from 0 to 59, got 60",
                "bad_recurrence.yml:9: trigger.schedule.week_days: expected day names (monday ... sunday), got 'funday'",
                "bad_recurrence.yml:10: trigger.schedule.month_days: expected whole numbers from 1 to 31, got 0",
                "bad_recurrence.yml:12: trigger.end_time: 2026-05-01T00:00:00 is not after start_time",
                "bad_recurrence.yml:13: trigger.time_zone: unknown time zone 'Mars Standard Time'",
            ],
        ),
        (
            "bad_pattern.yml",
            [
                "bad_pattern.yml:6: trigger.schedule.minutes: missing: a pattern needs both hours and minutes",
                "bad_pattern.yml:8: trigger.schedule.week_days: week_days apply only with frequency week or month",
            ],
        ),
        ("bad_missing_name.yml", ["bad_missing_name.yml:1: name: missing: the schedule's name"]),
        (
            "bad_missing_create_job.yml",
            ["bad_missing_create_job.yml:1: create_job: missing: the pipeline to run"],
        ),
        (
            "bad_registered_job.yml",
            [
                "bad_registered_job.yml:5: create_job: 'azureml:simple-pipeline-job:1': registered jobs cannot be "
                "scheduled by the local engine; point create_job at a pipeline YAML file"
            ],
        ),
        (
            "bad_missing_pipeline.yml",
            ["bad_missing_pipeline.yml:7: create_job.job: pipeline file './no-such-pipeline.yml' not found"],
        ),
        (
            "bad_pipeline_problems.yml",
            ["broken_pipeline.yml:7: jobs.train.inputs.data: no job 'prep' (train)"],
        ),
        (
            "bad_overrides.yml",
            [
                "bad_overrides.yml:9: create_job.settings.continue_on_step_failure: expected true or false, got 'maybe'",
                "bad_overrides.yml:10: create_job.settings.retries: unknown key 'retries'",
                "bad_overrides.yml:12: create_job.inputs.rates: no such pipeline input (label, rate, data)",
                "bad_overrides.yml:13: create_job.inputs.rate: 'fast' is not a number",
                "bad_overrides.yml:14: create_job.inputs.data: path ",
                "bad_overrides.yml:15: create_job.inputs.label: '${{parent.inputs.rate}}': a schedule may use only",
                "bad_overrides.yml:17: create_job.outputs.reports: no such pipeline output (report)",
            ],
        ),
        (
            "bad_mixed_forms.yml",
            ["bad_mixed_forms.yml:2: pipeline_id: mixes the CLI v2 form (trigger, create_job)"],
        ),
        (
            "bad_neither.yml",
            ["bad_neither.yml:1: (root): neither a CLI v2 schedule (trigger, create_job) nor a v1"],
        ),
        (
            "bad_v1.yml",
            [
                "bad_v1.yml:1: experiment_name: missing: the experiment to run in",
                "bad_v1.yml:6: recurrence.hours: applies only with frequency Day or Week",
                "bad_v1.yml:7: recurrence.time_of_day: applies only with frequency Day or Week",
                "bad_v1.yml:7: recurrence.time_of_day: give time_of_day or hours and minutes, not both",
                "bad_v1.yml:8: recurrence.week_days: applies only with frequency Week",
                "bad_v1.yml:10: status: expected Active or Disabled, got 'Paused'",
            ],
        ),
        (
            "bad_v1_time_of_day.yml",
            [
                "bad_v1_time_of_day.yml:7: recurrence.time_of_day: expected a time of day as hh:mm",
                "bad_v1_time_of_day.yml:8: polling_interval: applies only to a change-based schedule",
            ],
        ),
        (
            "bad_v1_datastore.yml",
            [
                "bad_v1_datastore.yml:4: datastore: folder not found",
                "bad_v1_datastore.yml:5: polling_interval: expected whole minutes, 1 or more, got 0",
            ],
        ),
    ],
)
def test_it_reports_each_problem_with_file_line_and_field(name: str, expected: list[str]) -> None:
    problems = problems_in(SCHEDULES / name)

    assert len(problems) == len(expected), "\n".join(problems)
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(str(SCHEDULES / start)), problem


def test_it_asks_a_v1_schedule_for_a_recurrence_or_a_datastore(tmp_path: Path) -> None:
    path = write(tmp_path, "name: when\npipeline_id: house-prices\nexperiment_name: nightly\n")

    assert problems_in(path) == [
        f"{path}:1: recurrence: missing: a recurrence (ScheduleRecurrence fields) or a datastore (a folder to watch)"
    ]


def test_it_names_files_as_they_were_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "broken.yml").write_text((SCHEDULES / "broken_pipeline.yml").read_text())
    write(tmp_path / "sub", "name: x\ntrigger: {type: cron}\ncreate_job: ./broken.yml\n")
    monkeypatch.chdir(tmp_path)

    assert problems_in("sub/schedule.yml") == [
        "sub/schedule.yml:2: trigger.expression: missing: a cron expression, e.g. '0 4 * * *'",
        "sub/broken.yml:7: jobs.train.inputs.data: no job 'prep' (train)",
    ]


def test_it_reports_an_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "")

    assert problems_in(path) == [
        f"{path}:1: (root): empty file: expected a schedule (name, trigger, create_job)"
    ]
