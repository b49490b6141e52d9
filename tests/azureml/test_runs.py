"""Runs, steps and graphs of an Azure ML workspace, read through the real SDK from replayed traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backends.azureml import compose, demo
from backends.base import RunStatus
from backends.local.spec import load_pipeline
from tests.azureml.conftest import sent


def by_id(runs):
    return {r.id: r for r in runs}


def test_pipeline_and_command_jobs_are_runs_with_run_history_times_and_the_job_facts(replay):
    backend = replay()

    runs = by_id(backend.list_runs(None))

    assert set(runs) == {
        demo.RECORDED_JOB,
        demo.SCHEDULED_JOB,
        demo.RUNNING_JOB,
        demo.COMMAND_JOB,
        demo.V1_RUN,
    }
    recorded = runs[demo.RECORDED_JOB]
    assert recorded.status == RunStatus.FAILED and recorded.experiment_name == "azure-ai-ml"
    assert recorded.started_at == demo.T0 + timedelta(seconds=2)
    assert recorded.finished_at == demo.T0 + timedelta(minutes=7, seconds=26)
    assert recorded.submitted_by == "Sanitized" and recorded.compute == "cpu-cluster"
    assert recorded.tags == {"tag": "tagvalue", "owner": "sdkteam"}
    assert recorded.description == "The hello world pipeline job with inline command job having inputs"
    assert recorded.url.startswith(f"https://ml.azure.com/runs/{demo.RECORDED_JOB}?wsid=/subscriptions/")
    assert "&tid=" in recorded.url  # the SDK adds the signed-in tenant, as Studio needs
    command = runs[demo.COMMAND_JOB]
    assert [s.node_id for s in command.steps] == [demo.COMMAND_JOB]  # a command job is its own one step
    step = command.steps[0]
    assert step.command == "python train.py --epochs ${{inputs.epochs}}"
    assert step.environment == "AzureML-sklearn-1.5@latest" and step.status == RunStatus.COMPLETED


def test_steps_are_the_child_runs_matched_to_the_pipelines_nodes(replay):
    backend = replay()

    steps = {s.node_id: s for s in backend.get_steps(demo.RECORDED_JOB)}

    children = {c["displayName"]: c for c in compose.recorded_step_runs()}
    assert (
        set(steps) == set(children) == {"hello_world_inline_commandjob_1", "hello_world_inline_commandjob_2"}
    )
    for node, step in steps.items():
        assert step.id == children[node]["runId"] and step.status == RunStatus.FAILED
        assert "Authentication failed when trying to access" in step.error
        assert step.compute == "cpu-cluster" and step.url.startswith("https://ml.azure.com/runs/")
        assert step.log_names == ("user_logs/std_log.txt", "system_logs/cs_capability/cs-capability.log")
    assert steps["hello_world_inline_commandjob_1"].outputs == {
        "component_out_path_1": "${{parent.outputs.job_out_path_1}}"
    }


def test_a_node_with_no_run_yet_is_a_step_not_started(replay, workspace):
    start = demo.T0 + timedelta(hours=5)
    root = compose.run_body(
        "early_bird_1", status="Running", created=start, started=start, experiment_id=demo.NIGHTLY_ID
    )
    jobs = compose.recorded_schedule()["properties"]["action"]["jobDefinition"]["jobs"]
    workspace.job(demo.pipeline_job("early_bird_1", "early", "Running", jobs), composed="test")
    running = demo.step_runs("early_bird_1", ["a"], ["Running"], start)
    workspace.family(demo.NIGHTLY_ID, root, running)
    workspace.details(running[0], {"user_logs/std_log.txt": "starting\n"})
    workspace.run(root)
    backend = replay()

    steps = {s.node_id: s for s in backend.get_steps("early_bird_1")}

    assert steps["a"].status == RunStatus.RUNNING
    assert steps["b"].status == steps["c"].status == RunStatus.NOT_STARTED and steps["b"].id == ""


def test_the_graph_has_the_edges_the_local_engine_draws_from_the_same_bindings(replay, tmp_path):
    backend = replay()
    local_file = tmp_path / "pipeline.yml"
    local_file.write_text(
        "type: pipeline\njobs:\n"
        "  a:\n    command: echo a\n"
        "  b:\n    command: echo b > ${{outputs.world_output}}\n    outputs:\n      world_output:\n        type: uri_file\n"
        "  c:\n    command: cat ${{inputs.world_input}}\n"
        "    inputs:\n      world_input: ${{parent.jobs.b.outputs.world_output}}\n"
    )

    graph = backend.get_graph(demo.SCHEDULED_JOB)

    local = load_pipeline(local_file)
    assert (
        [(e.source_node, e.source_output, e.target_node, e.target_input) for e in graph.edges]
        == [(e.source_step, e.source_output, e.target_step, e.target_input) for e in local.edges]
        == [("b", "world_output", "c", "world_input")]
    )
    assert [n.node_id for n in graph.nodes] == ["a", "b", "c"]


def test_reuse_and_the_exit_code_come_from_the_step_runs_properties_and_error(replay, workspace):
    start = demo.T0 + timedelta(hours=6)
    root = compose.run_body(
        "reuser_1", status="Failed", created=start, started=start, ended=start, experiment_id=demo.NIGHTLY_ID
    )
    jobs = compose.recorded_schedule()["properties"]["action"]["jobDefinition"]["jobs"]
    workspace.job(demo.pipeline_job("reuser_1", "reuse", "Failed", jobs), composed="test")
    steps = demo.step_runs("reuser_1", ["a", "b", "c"], ["Completed", "Completed", "Failed"], start)
    steps[0]["properties"].update(
        {
            "azureml.isreused": "true",
            "azureml.reusedrunid": "old-step-a",
            "azureml.reusedpipelinerunid": "old_run",
        }
    )
    steps[2]["error"] = {
        "error": {
            "code": "UserError",
            "message": "Execution failed. User process 'python' exited with status code 3. Please check log file 'user_logs/std_log.txt' for error details.",
        }
    }
    workspace.family(demo.NIGHTLY_ID, root, steps)
    workspace.run(root)
    for step in steps:
        workspace.details(step, {"user_logs/std_log.txt": "x\n"})
    backend = replay()

    found = {s.node_id: s for s in backend.get_steps("reuser_1")}

    assert found["a"].is_reused and (found["a"].reused_run_id, found["a"].reused_step_id) == (
        "old_run",
        "old-step-a",
    )
    assert not found["b"].is_reused and found["b"].reused_step_id == ""
    assert found["c"].exit_code == 3 and "exited with status code 3" in found["c"].error


def test_a_pass_with_nothing_new_asks_for_new_experiments_new_runs_and_each_active_run(replay):
    backend = replay()
    first = by_id(backend.list_runs(None))
    watermark = max(r.updated_at for r in first.values())
    before = len(sent(backend))

    again = backend.list_runs(watermark - timedelta(seconds=5), active_ids=frozenset({demo.RUNNING_JOB}))

    asked = sent(backend)[before:]
    assert [r.id for r in again] == [demo.RUNNING_JOB]  # the runs that ended are not read again
    assert [(m, p.rsplit("/", 1)[-1]) for m, p in asked] == [
        ("POST", "experiments:query"),  # experiments made since the last look
        ("POST", "runs:query"),  # each experiment's new top-level runs (the demo has three)
        ("POST", "runs:query"),
        ("POST", "runs:query"),
        ("POST", "runs:query"),  # the active run and its steps, in one query
    ]
    family = backend.workspace.recording.sent[-1].body
    assert family["filter"] == f"RootRunId eq {demo.RUNNING_JOB}"
    listing = backend.workspace.recording.sent[-2].body
    assert (
        listing["orderBy"] == "CreatedUtc desc"
        and "ParentRunId eq null and CreatedUtc gt" in listing["filter"]
    )


def test_a_running_job_is_followed_until_it_ends(replay):
    backend = replay()
    backend.list_runs(None)

    statuses = [
        by_id(backend.list_runs(datetime(2030, 1, 1, tzinfo=UTC), active_ids=frozenset({demo.RUNNING_JOB})))[
            demo.RUNNING_JOB
        ].status
        for _ in range(4)
    ]

    assert statuses[-1] == RunStatus.COMPLETED and RunStatus.RUNNING in statuses


def test_a_run_this_process_never_listed_finds_its_experiment_first(replay):
    backend = replay()

    runs = backend.list_runs(datetime(2030, 1, 1, tzinfo=UTC), active_ids=frozenset({demo.RUNNING_JOB}))

    assert [r.id for r in runs] == [demo.RUNNING_JOB]
    paths = [p for _, p in sent(backend)]
    assert any(p.endswith(f"/runs/{demo.RUNNING_JOB}") for p in paths)
    assert any(p.endswith(f"/experimentids/{demo.NIGHTLY_ID}/runs:query") for p in paths)


def test_archived_jobs_are_left_out_unless_asked_for(replay, workspace):
    hidden = compose.run_body(
        "archived_1",
        status="Completed",
        created=demo.T0 + timedelta(days=1),
        experiment_id=demo.EXPERIMENT_ID,
    )
    hidden["hidden"] = True
    workspace.entries = [
        e
        for e in workspace.entries
        if not e["RequestUri"].endswith(f"{demo.EXPERIMENT_ID}/runs:query")
        or "filter" in (e["RequestBody"] or {})
    ]
    recorded_root = compose.run_body(
        demo.RECORDED_JOB, status="Failed", created=demo.T0, experiment_id=demo.EXPERIMENT_ID
    )
    workspace.listing(demo.EXPERIMENT_ID, [recorded_root, hidden])
    workspace.job(demo.command_job("archived_1", "old", "Completed", "echo"), composed="test")
    workspace.details(hidden, {"user_logs/std_log.txt": "x\n"})

    assert "archived_1" not in by_id(replay().list_runs(None))
    assert "archived_1" in by_id(replay(include_archived=True).list_runs(None))


def test_every_page_of_a_listing_is_read(replay, workspace):
    roots = [
        compose.run_body(
            f"many_{i}",
            status="Completed",
            created=demo.T0 + timedelta(days=2, minutes=i),
            experiment_id=demo.EXPERIMENT_ID,
            run_type="azureml.scriptrun",
        )
        for i in range(5)
    ]
    workspace.entries = [
        e
        for e in workspace.entries
        if not (
            e["RequestUri"].endswith(f"{demo.EXPERIMENT_ID}/runs:query")
            and "orderBy" in (e["RequestBody"] or {})
        )
    ]
    workspace.listing(demo.EXPERIMENT_ID, roots, page=2)
    for root in roots:
        workspace.job(demo.command_job(root["runId"], root["runId"], "Completed", "echo"), composed="test")
        workspace.details(root, {"user_logs/std_log.txt": "x\n"})
    backend = replay()

    runs = by_id(backend.list_runs(None))

    assert {f"many_{i}" for i in range(5)} <= set(runs)
    tokens = [
        s.body.get("continuationToken")
        for s in backend.workspace.recording.sent
        if s.body and s.path.endswith(f"{demo.EXPERIMENT_ID}/runs:query")
    ]
    assert tokens == [None, "page-1", "page-2"]


def test_a_pipeline_with_many_steps_is_read_whole_across_pages(replay, workspace):
    start = demo.T0 + timedelta(hours=7)
    nodes = [f"shard_{i}" for i in range(5)]
    jobs = {
        n: {"name": n, "type": "command", "_source": "YAML.JOB", "componentId": "azureml:x:1"} for n in nodes
    }
    root = compose.run_body(
        "wide_1", status="Completed", created=start, started=start, ended=start, experiment_id=demo.NIGHTLY_ID
    )
    children = demo.step_runs("wide_1", nodes, ["Completed"] * 5, start)
    workspace.job(demo.pipeline_job("wide_1", "wide", "Completed", jobs), composed="test")
    workspace.run(root)
    for number, chunk in enumerate([[root, *children[:2]], children[2:4], children[4:]]):
        entry = workspace.add(
            "POST",
            workspace.history(f"/experimentids/{demo.NIGHTLY_ID}/runs:query"),
            {"value": chunk, "continuationToken": f"p{number + 1}" if number < 2 else None},
            request={"filter": "RootRunId eq wide_1", "continuationToken": f"p{number}" if number else None},
            composed="test: a family in three pages",
        )
        assert entry
    for child in children:
        workspace.details(child, {"user_logs/std_log.txt": "x\n"})
    backend = replay()

    steps = backend.get_steps("wide_1")

    assert [s.node_id for s in steps] == nodes and all(s.id for s in steps)


def test_a_v1_pipeline_run_is_read_from_run_history_alone_with_its_published_pipeline_and_schedule(replay):
    backend = replay()

    run = by_id(backend.list_runs(None))[demo.V1_RUN]
    graph = backend.get_graph(demo.V1_RUN)

    assert run.published_pipeline_id == demo.PUBLISHED and run.schedule_id == f"v1:{demo.DAILY}"
    assert [s.node_id for s in run.steps] == ["score", "report"] and run.steps[0].log_names == (
        "azureml-logs/70_driver_log.txt",
    )
    assert [n.node_id for n in graph.nodes] == ["score", "report"] and graph.edges == ()
    assert backend.get_definition(demo.V1_RUN) == ""  # ARM has no such job to show
    assert backend.get_run(demo.SCHEDULED_JOB).schedule_id == demo.SCHEDULE  # a v2 schedule
