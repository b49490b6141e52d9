"""A small Azure ML workspace to replay: what ``examples/azureml/workspace.json`` holds, composed from recorded
traffic, so that a new user sees Azure ML runs beside the local engine's with no Azure account.

``python -m backends.azureml.demo FILE`` writes it. The tests compose their workspaces from the same parts.
"""

from __future__ import annotations

import copy
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from backends.azureml import compose as c

EXPERIMENT_ID = "feaf39dd-e0de-4b57-9b9a-d5837337665a"  # the recorded job's experiment
NIGHTLY_ID = "5d0c2f8e-3b7a-4c1e-9f62-0a8b7c6d5e41"
SCORING_ID = "2b7e9a51-6c3d-4f08-8e1a-5d4c3b2a1f09"
V1_RUN = "8e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"  # a run of the v1 published pipeline, started by its schedule
PUBLISHED = "9c1f69b7-fc1d-418b-86c0-93aa0193f79e"
DAILY = "6a1b2c3d-0000-4000-8000-000000000001"
RECORDED_JOB = "test_680454434153"
SCHEDULED_JOB = "sharp_sail_k3v9d2"
RUNNING_JOB = "brave_otter_q8w1e5"
COMMAND_JOB = "quiet_lamp_7x2k9m"
SCHEDULE = "test_236155891533"
T0 = datetime(2026, 2, 27, 20, 29, 52, tzinfo=UTC)  # the recorded job's creation


def pipeline_job(name: str, display_name: str, status: str, jobs: dict, inputs: dict | None = None) -> dict:
    """The recorded pipeline job's ARM body with other ``jobs:`` nodes."""
    body = c.recorded_pipeline_job()
    body["name"] = name
    body["id"] = body["id"].rsplit("/", 1)[0] + "/" + name
    p = body["properties"]
    p.update(
        {"displayName": display_name, "status": status, "jobs": copy.deepcopy(jobs), "inputs": inputs or {}}
    )
    p["experimentName"] = "nightly-training"
    p["services"]["Studio"]["endpoint"] = p["services"]["Studio"]["endpoint"].replace(RECORDED_JOB, name)
    return body


def command_job(name: str, display_name: str, status: str, command: str) -> dict:
    """A command job's ARM body, shaped from the recorded pipeline job's (CommandJob per the mfe.json spec)."""
    body = pipeline_job(name, display_name, status, {})
    p = body["properties"]
    for key in ("jobs", "settings", "sourceJobId"):
        p.pop(key, None)
    p.update(
        {
            "jobType": "Command",
            "command": command,
            "environmentId": "azureml:AzureML-sklearn-1.5@latest",
            "codeId": None,
            "inputs": {"epochs": {"jobInputType": "literal", "value": "20"}},
            "outputs": {},
            "environmentVariables": {},
            "resources": {"instanceCount": 1},
            "parameters": {},
        }
    )
    return body


def step_runs(
    parent: str, nodes: list[str], statuses: list[str], start: datetime, **extra: Any
) -> list[dict]:
    runs = []
    for i, (node, status) in enumerate(zip(nodes, statuses, strict=True)):
        began = start + timedelta(minutes=2 * i)
        ended = began + timedelta(minutes=2) if status in ("Completed", "Failed", "Canceled") else None
        runs.append(
            c.run_body(
                f"{parent}-{node}-0000-4000-8000-{i:012d}",
                status=status,
                created=start,
                started=began if status != "NotStarted" else None,
                ended=ended,
                display_name=node,
                parent=parent,
                experiment_id=NIGHTLY_ID,
                run_type="azureml.StepRun",
                properties={"azureml.nodeid": f"{i:08x}", "azureml.pipelinerunid": parent, **extra},
            )
        )
    return runs


def log_text(step: str, lines: int = 40) -> str:
    out = [f"[{step}] Starting the job on cpu-cluster (1 node)."]
    out += [f"[{step}] epoch {n:3d} loss={1 / (n + 1):.4f}" for n in range(lines)]
    out.append(f"[{step}] Done.")
    return "\n".join(out) + "\n"


def workspace() -> c.Composer:
    w = c.Composer()
    w.workspace_and_discovery()
    w.experiments(
        [
            (EXPERIMENT_ID, "azure-ai-ml", T0 - timedelta(days=2)),
            (NIGHTLY_ID, "nightly-training", T0),
            (SCORING_ID, "scoring", T0 - timedelta(days=30)),
        ]
    )

    # 1. The recorded pipeline job and its two recorded step runs (both failed).
    recorded = c.run_body(
        RECORDED_JOB,
        status="Failed",
        created=T0,
        started=T0 + timedelta(seconds=2),
        ended=T0 + timedelta(minutes=7, seconds=26),
        error="Pipeline has failed child jobs.",
        experiment_id=EXPERIMENT_ID,
    )
    children = c.recorded_step_runs()
    w.listing(EXPERIMENT_ID, [recorded])
    w.job(c.recorded_pipeline_job(), recorded_from="pipeline job GET (Failed)")
    w.family(EXPERIMENT_ID, recorded, children)
    for child in children:
        w.details(
            child,
            {
                "user_logs/std_log.txt": log_text(child["displayName"], 12),
                "system_logs/cs_capability/cs-capability.log": "capability: ok\n",
            },
        )

    # 2. The recorded schedule's pipeline (a, b, c; c reads b's output), started by that schedule.
    jobs = c.recorded_schedule()["properties"]["action"]["jobDefinition"]["jobs"]
    nodes = list(jobs)
    start = T0 + timedelta(hours=1)
    scheduled = c.run_body(
        SCHEDULED_JOB,
        status="Completed",
        created=start,
        started=start,
        ended=start + timedelta(minutes=7),
        display_name="hello_pipeline_abc",
        experiment_id=NIGHTLY_ID,
    )
    scheduled["scheduleId"] = SCHEDULE
    w.job(
        pipeline_job(SCHEDULED_JOB, "hello_pipeline_abc", "Completed", jobs),
        composed="the recorded schedule's job definition as a job",
    )
    steps = step_runs(SCHEDULED_JOB, nodes, ["Completed"] * 3, start)
    w.family(NIGHTLY_ID, scheduled, steps)
    for step in steps:
        w.details(step, {"user_logs/std_log.txt": log_text(step["displayName"])})

    # 3. The same pipeline running: its last step runs for a few sync passes, then completes.
    start = T0 + timedelta(hours=2)
    running = c.run_body(
        RUNNING_JOB,
        status="Running",
        created=start,
        started=start,
        display_name="hello_pipeline_abc",
        experiment_id=NIGHTLY_ID,
    )
    w.job(
        pipeline_job(RUNNING_JOB, "hello_pipeline_abc", "Running", jobs),
        composed="a running copy of the pipeline",
    )
    live = step_runs(RUNNING_JOB, nodes, ["Completed", "Completed", "Running"], start)
    for _ in range(3):
        w.family(NIGHTLY_ID, running, live)
    done = copy.deepcopy(running) | {
        "status": "Completed",
        "endTimeUtc": c.time(start + timedelta(minutes=9)),
        "lastModifiedUtc": c.time(start + timedelta(minutes=9)),
    }
    w.family(NIGHTLY_ID, done, step_runs(RUNNING_JOB, nodes, ["Completed"] * 3, start))
    for step in live:
        w.details(step, {"user_logs/std_log.txt": log_text(step["displayName"], 200)})
    w.cancel(RUNNING_JOB)

    # 4. A command job: one step, itself.
    start = T0 + timedelta(hours=3)
    command = c.run_body(
        COMMAND_JOB,
        status="Completed",
        created=start,
        started=start,
        ended=start + timedelta(minutes=4),
        display_name="train-sklearn",
        experiment_id=NIGHTLY_ID,
        run_type="azureml.scriptrun",
    )
    w.job(
        command_job(COMMAND_JOB, "train-sklearn", "Completed", "python train.py --epochs ${{inputs.epochs}}"),
        composed="a command job",
    )
    w.details(command, {"user_logs/std_log.txt": log_text("train-sklearn", 60)})
    w.listing(NIGHTLY_ID, [scheduled, running, command])
    for root in (recorded, scheduled, running, command):
        w.run(root)  # a worker that has not listed a run yet looks up its experiment

    # 5. A run of the v1 published pipeline, started by its v1 schedule: run history knows it, ARM has no such job.
    start = T0 + timedelta(hours=4)
    scoring = c.run_body(
        V1_RUN,
        status="Completed",
        created=start,
        started=start,
        ended=start + timedelta(minutes=6),
        display_name="nightly-scoring",
        experiment_id=SCORING_ID,
        properties={"azureml.pipelineid": PUBLISHED},
    )
    scoring["scheduleId"] = DAILY
    scoring["properties"].pop("azureml.DevPlatv2", None)
    scoring_steps = step_runs(V1_RUN, ["score", "report"], ["Completed", "Completed"], start)
    for step in scoring_steps:
        step["experimentId"] = SCORING_ID
        step["properties"].pop("azureml.DevPlatv2", None)
        w.details(step, {"azureml-logs/70_driver_log.txt": log_text(step["displayName"], 20)})
    w.listing(SCORING_ID, [scoring])
    w.family(SCORING_ID, scoring, scoring_steps)
    w.run(scoring)
    w.error("GET", w.arm(f"/jobs/{V1_RUN}"), 404, "UserError", f"Job {V1_RUN} not found.")

    # Schedules: the recorded one (cron, Pacific time) and a disabled recurrence beside it.
    weekly = c.recorded_schedule()
    hourly = copy.deepcopy(weekly)
    hourly["name"] = "hourly-refresh"
    hourly["properties"].update(
        {"displayName": "hourly refresh", "isEnabled": False, "description": "refresh features"}
    )
    hourly["properties"]["trigger"] = {
        "endTime": None,
        "startTime": "2026-01-05 00:00:00",
        "timeZone": "W. Europe Standard Time",
        "triggerType": "Recurrence",
        "frequency": "Hour",
        "interval": 1,
        "schedule": None,
    }
    w.schedules([weekly, hourly])
    w.recorded_entries("schedule-lifetime.json", [5, 6, 7, 8])  # disabling the weekly one, as recorded

    # The v1 pipelines service: a published pipeline, an endpoint, a time-based and a change-based schedule.
    published = PUBLISHED
    w.v1_list(
        "Pipelines",
        [
            {
                "Id": published,
                "Name": "nightly-scoring",
                "Description": "scores yesterday's data",
                "Version": "3",
                "GraphId": "g-1",
                "TotalRunSteps": 2,
                "ParameterAssignments": {"cutoff": "0.5"},
                "Url": f"{c.PIPELINES}/pipelines/v1.0{w.path}/PipelineRuns/PipelineSubmit/{published}",
                "EntityStatus": "Active",
                "ContinueRunOnStepFailure": False,
                "CreatedDate": c.time(T0 - timedelta(days=30)),
                "LastModifiedDate": c.time(T0 - timedelta(days=30)),
                "Etag": "1",
            }
        ],
    )
    w.v1_list(
        "PipelineEndpoints",
        [
            {
                "Id": "0d7a5a64-2b3f-4a8e-8a51-3f6f1c2a9b10",
                "Name": "scoring-endpoint",
                "DefaultVersion": "0",
                "Description": "stable scoring",
                "PipelineVersionList": [{"Version": "0", "PipelineId": published}],
                "Url": f"{c.PIPELINES}/pipelines/v1.0{w.path}/PipelineRuns/PipelineEndpointSubmit/Id/0d7a5a64-2b3f-4a8e-8a51-3f6f1c2a9b10",
                "SwaggerUrl": "",
                "EntityStatus": "Active",
            }
        ],
    )
    w.v1_list(
        "Schedules",
        [
            {
                "Id": DAILY,
                "Name": "daily-scoring",
                "PipelineId": published,
                "ProvisioningStatus": "Completed",
                "EntityStatus": "Active",
                "ScheduleType": "Recurrence",
                "Recurrence": {
                    "Frequency": "Day",
                    "Interval": 1,
                    "StartTime": "2026-01-01T04:30:00",
                    "TimeZone": "Pacific Standard Time",
                    "Schedule": {"Hours": [4], "Minutes": [30], "WeekDays": None},
                },
                "PipelineSubmissionInfo": {
                    "ExperimentName": "scoring",
                    "Description": "every morning",
                    "ParameterAssignments": {"cutoff": "0.7"},
                },
            },
            {
                "Id": "6a1b2c3d-0000-4000-8000-000000000002",
                "Name": "score-on-upload",
                "PipelineId": published,
                "ProvisioningStatus": "Completed",
                "EntityStatus": "Disabled",
                "ScheduleType": "DataStore",
                "DataStoreTriggerInfo": {
                    "DataStoreName": "workspaceblobstore",
                    "PollingInterval": 5,
                    "DataPathParameterName": "input_path",
                    "PathOnDataStore": "incoming/",
                },
                "PipelineSubmissionInfo": {"ExperimentName": "scoring", "ParameterAssignments": {}},
            },
        ],
    )
    daily = w.entries[-1]["ResponseBody"][0]
    w.add(
        "GET", w.v1(f"/Schedules/{daily['Id']}"), daily, composed=f"a v1 schedule, shaped from {c.V1_SHAPES}"
    )
    w.add(
        "PUT",
        w.v1(f"/Schedules/{daily['Id']}"),
        {**daily, "EntityStatus": "Disabled"},
        composed="the v1 schedule, disabled",
    )

    # Sending a job again (resubmit, submit FILE --backend): its compute is looked up, then the job is created.
    w.compute()
    w.created_job(pipeline_job("fresh_start_0000", "hello_pipeline_abc", "NotStarted", jobs))
    return w


if __name__ == "__main__":
    print(workspace().dump(sys.argv[1] if len(sys.argv) > 1 else "examples/azureml/workspace.json"))
