"""The local engine's loader for Azure ML CLI v2 pipeline YAML (backends/local/spec.py); no Django needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends.local.spec import (
    Binding,
    EdgeSpec,
    PipelineSpec,
    SpecError,
    SpecProblem,
    load_pipeline,
    parse_set_options,
)

PIPELINES = Path(__file__).parent / "pipelines"
EXAMPLES = Path(__file__).parents[2] / "examples"
SUMMARIZE = str(EXAMPLES / "components" / "summarize.yml")


def problems_in(path: Path | str) -> str:
    with pytest.raises(SpecError) as caught:
        load_pipeline(path)
    return str(caught.value)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yml"
    path.write_text(text)
    return path


def edges(spec: PipelineSpec) -> set[str]:
    return {f"{e.source_step}.{e.source_output} -> {e.target_step}.{e.target_input}" for e in spec.edges}


# --- the examples ------------------------------------------------------------------------------------


def test_it_loads_the_train_example() -> None:
    spec = load_pipeline(EXAMPLES / "train-model" / "pipeline.yml")

    assert list(spec.jobs) == ["prep", "train", "evaluate", "summarize"]
    assert edges(spec) == {
        "prep.prepared -> train.prepared",
        "prep.prepared -> evaluate.prepared",
        "train.model -> evaluate.model",
        "evaluate.report -> summarize.folder",
    }
    assert spec.inputs["houses"].type == "uri_file"
    assert spec.inputs["houses"].default == str(EXAMPLES / "train-model" / "data" / "houses.csv")
    assert (spec.inputs["learning_rate"].type, spec.inputs["learning_rate"].default) == ("number", 0.1)
    assert (spec.inputs["epochs"].type, spec.inputs["epochs"].default) == ("integer", 300)
    assert spec.jobs["train"].code == str(EXAMPLES / "train-model" / "src")
    assert spec.jobs["train"].outputs["model"].pipeline_output == "model"
    assert spec.jobs["evaluate"].outputs["report"].pipeline_output == "evaluation"
    assert spec.jobs["summarize"].component == SUMMARIZE


def test_it_loads_the_flaky_branch_example() -> None:
    spec = load_pipeline(EXAMPLES / "flaky-branch" / "pipeline.yml")

    assert spec.continue_on_step_failure is True
    assert len(spec.jobs) == 5
    assert spec.upstream("publish") == {"check_records"}
    assert spec.upstream("count_words") == {"fetch"}
    assert spec.upstream("summarize") == {"count_words"}


def test_it_loads_the_long_running_example() -> None:
    spec = load_pipeline(EXAMPLES / "long-running" / "pipeline.yml")

    assert edges(spec) == {"tick.progress -> report.progress"}
    assert spec.jobs["tick"].is_deterministic is False
    assert spec.jobs["tick"].timeout == 600
    assert spec.inputs["seconds"].default >= 90


def test_it_loads_the_fan_out_example() -> None:
    spec = load_pipeline(EXAMPLES / "fan-out" / "pipeline.yml")

    shards = [name for name in spec.jobs if name.startswith("shard_")]
    assert len(shards) == 20
    assert len(spec.jobs) == 23
    assert len(spec.edges) == 41
    assert spec.upstream("merge") == set(shards)
    assert all(spec.upstream(shard) == {"split"} for shard in shards)
    assert spec.jobs["shard_07"].inputs["index"] == Binding("literal", "integer", 7)
    assert spec.topological_order()[0] == "split"
    assert spec.topological_order()[-2:] == ["merge", "summarize"]


def test_the_summarize_component_is_used_by_several_examples() -> None:
    users = [
        name
        for name in ("train-model", "flaky-branch", "fan-out")
        if any(
            step.component == SUMMARIZE
            for step in load_pipeline(EXAMPLES / name / "pipeline.yml").jobs.values()
        )
    ]

    assert len(users) >= 2


# --- bindings ----------------------------------------------------------------------------------------


def test_it_reads_the_pipeline_fields_and_settings() -> None:
    spec = load_pipeline(PIPELINES / "bindings.yml")

    assert spec.path == str(PIPELINES / "bindings.yml")
    assert spec.text == (PIPELINES / "bindings.yml").read_text()
    assert (spec.name, spec.display_name, spec.experiment_name) == (
        "bindings",
        "Every binding form",
        "spec-tests",
    )
    assert spec.tags == {"owner": "tests", "priority": "2"}
    assert spec.continue_on_step_failure is True
    assert spec.force_rerun is False
    assert spec.default_compute == "azureml:cpu-cluster"
    assert {name: (i.type, i.default) for name, i in spec.inputs.items()} == {
        "rate": ("number", 0.5),
        "epochs": ("integer", 3),
        "label": ("string", "first"),
        "verbose": ("boolean", True),
        "table": ("uri_file", str(PIPELINES / "data" / "table.csv")),
        "images": ("uri_folder", str(PIPELINES / "data" / "images")),
    }
    assert {name: o.type for name, o in spec.outputs.items()} == {
        "report": "uri_folder",
        "archive": "uri_file",
    }


def test_it_binds_parent_inputs_and_the_older_inputs_form() -> None:
    first = load_pipeline(PIPELINES / "bindings.yml").jobs["first"]

    assert first.inputs == {
        "rate": Binding("pipeline_input", "number", source="rate"),
        "epochs": Binding("pipeline_input", "integer", source="epochs"),
    }


def test_it_binds_job_outputs_in_both_forms_and_makes_one_edge_each() -> None:
    spec = load_pipeline(PIPELINES / "bindings.yml")
    second = spec.jobs["second"]

    assert second.inputs["a"] == Binding("step_output", "uri_folder", source="first", output="result")
    assert second.inputs["b"] == Binding("step_output", "uri_folder", source="first", output="result")
    assert spec.edges == [
        EdgeSpec("first", "result", "second", "a"),
        EdgeSpec("first", "result", "second", "b"),
    ]


def test_it_binds_typed_mappings_with_a_path() -> None:
    second = load_pipeline(PIPELINES / "bindings.yml").jobs["second"]

    assert second.inputs["table"] == Binding("pipeline_input", "uri_file", source="table")
    assert second.inputs["images"] == Binding("literal", "uri_folder", str(PIPELINES / "data" / "images"))


def test_it_types_inline_literals_from_their_yaml_values() -> None:
    second = load_pipeline(PIPELINES / "bindings.yml").jobs["second"]

    assert second.inputs["count"] == Binding("literal", "integer", 7)
    assert second.inputs["name"] == Binding("literal", "string", "plain text")
    assert second.inputs["flag"] == Binding("literal", "boolean", False)


def test_it_binds_job_outputs_to_pipeline_outputs_in_both_forms() -> None:
    second = load_pipeline(PIPELINES / "bindings.yml").jobs["second"]

    assert (second.outputs["report"].pipeline_output, second.outputs["report"].type) == (
        "report",
        "uri_folder",
    )
    assert (second.outputs["archive"].pipeline_output, second.outputs["archive"].type) == (
        "archive",
        "uri_file",
    )


def test_it_reads_a_jobs_compute_environment_variables_limits_and_determinism() -> None:
    spec = load_pipeline(PIPELINES / "bindings.yml")
    first, second = spec.jobs["first"], spec.jobs["second"]

    assert (first.compute, second.compute) == ("azureml:cpu-cluster", "azureml:gpu-cluster")
    assert second.environment_variables == {"MODE": "fast", "RETRIES": "3"}
    assert (first.timeout, second.timeout) == (None, 120)
    assert (first.is_deterministic, second.is_deterministic) == (True, False)
    assert (first.code, first.component, first.line) == (None, None, 36)
    assert "${{ inputs.b }}" in second.command


# --- components --------------------------------------------------------------------------------------


def test_it_fills_in_component_defaults_and_leaves_optional_inputs_unset() -> None:
    job = load_pipeline(PIPELINES / "components.yml").jobs["train_default"]

    assert job.inputs == {
        "data": Binding("step_output", "uri_folder", source="make_data", output="data"),
        "learning_rate": Binding("literal", "number", 0.1),
        "epochs": Binding("literal", "integer", 10),
        "label": Binding("unset", "string"),
    }
    assert list(job.outputs) == ["model"]


def test_it_takes_command_code_and_environment_from_the_component_file() -> None:
    job = load_pipeline(PIPELINES / "components.yml").jobs["train_default"]

    assert job.component == str(PIPELINES / "components" / "train.yml")
    assert job.code == str(PIPELINES / "components" / "src")
    assert job.command.startswith("python train.py --data ${{inputs.data}}")
    assert job.environment == "azureml:AzureML-sklearn-1.5@latest"
    assert (job.display_name, job.is_deterministic) == ("Train a model", False)


def test_a_component_job_may_override_display_name_compute_limits_and_environment_variables() -> None:
    job = load_pipeline(PIPELINES / "components.yml").jobs["train_tuned"]

    assert job.component == str(
        PIPELINES / "components" / "train.yml"
    )  # given as file:./components/train.yml
    assert (job.display_name, job.compute, job.timeout) == ("Tuned", "azureml:gpu-cluster", 60)
    assert job.environment_variables == {"SEED": "7"}
    assert job.inputs["learning_rate"] == Binding("pipeline_input", "number", source="learning_rate")
    assert job.inputs["label"] == Binding("literal", "string", "tuned")


def test_a_job_may_bind_to_a_job_further_down_the_file() -> None:
    spec = load_pipeline(PIPELINES / "components.yml")

    assert list(spec.jobs) == ["train_default", "train_tuned", "make_data"]
    assert spec.topological_order() == ["make_data", "train_default", "train_tuned"]


def test_it_accepts_a_component_written_inline(tmp_path: Path) -> None:
    spec = load_pipeline(
        write(
            tmp_path,
            """
type: pipeline
jobs:
  hello:
    component:
      type: command
      inputs:
        who: {type: string, default: world}
      command: echo hello ${{inputs.who}}
""",
        )
    )

    assert spec.jobs["hello"].inputs == {"who": Binding("literal", "string", "world")}
    assert spec.jobs["hello"].component is None


# --- parameters, commands, serialisation --------------------------------------------------------------


def test_with_parameters_coerces_command_line_strings_to_the_input_types() -> None:
    spec = load_pipeline(PIPELINES / "bindings.yml")

    changed = spec.with_parameters({"rate": "0.25", "inputs.epochs": "5", "verbose": "false", "label": "x y"})

    assert {
        name: i.default for name, i in changed.inputs.items() if name != "table" and name != "images"
    } == {
        "rate": 0.25,
        "epochs": 5,
        "verbose": False,
        "label": "x y",
    }
    assert spec.inputs["epochs"].default == 3  # the original is left as it was


def test_with_parameters_accepts_typed_values() -> None:
    spec = load_pipeline(PIPELINES / "bindings.yml").with_parameters(
        {"rate": 1, "epochs": 4, "verbose": True}
    )

    assert (spec.inputs["rate"].default, spec.inputs["epochs"].default, spec.inputs["verbose"].default) == (
        1.0,
        4,
        True,
    )


def test_with_parameters_resolves_a_path_against_the_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(PIPELINES)

    spec = load_pipeline(PIPELINES / "bindings.yml").with_parameters({"images": "components"})

    assert spec.inputs["images"].default == str(PIPELINES / "components")


def test_with_parameters_names_every_unknown_input_and_bad_value() -> None:
    spec = load_pipeline(PIPELINES / "bindings.yml")

    with pytest.raises(SpecError) as caught:
        spec.with_parameters(
            {"epochs": "many", "lr": "0.1", "verbose": "maybe", "table": "/no/such/file.csv"}
        )

    fields = [problem.field for problem in caught.value.problems]
    assert fields == ["inputs.epochs", "inputs.lr", "inputs.verbose", "inputs.table"]
    assert "'many' is not an integer" in str(caught.value)
    assert "inputs.lr: no such pipeline input" in str(caught.value)


def test_parse_set_options_strips_the_inputs_prefix() -> None:
    assert parse_set_options(["lr=0.1", "inputs.epochs=3", "name=a=b"]) == {
        "lr": "0.1",
        "epochs": "3",
        "name": "a=b",
    }


def test_parse_set_options_refuses_an_item_without_a_value() -> None:
    with pytest.raises(ValueError, match="'epochs'"):
        parse_set_options(["lr=0.1", "epochs"])


@pytest.mark.parametrize("name", ["train-model", "flaky-branch", "long-running", "fan-out"])
def test_to_dict_is_json_and_from_dict_gives_the_same_spec_back(name: str) -> None:
    spec = load_pipeline(EXAMPLES / name / "pipeline.yml")

    assert PipelineSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_topological_order_puts_each_step_after_its_upstream_steps() -> None:
    spec = load_pipeline(EXAMPLES / "train-model" / "pipeline.yml")

    assert spec.topological_order() == ["prep", "train", "evaluate", "summarize"]


# --- bad files: each problem names the file, the line and the field ------------------------------------


def test_it_reports_a_yaml_syntax_error_at_its_line() -> None:
    assert "bad_syntax.yml:6: yaml: invalid YAML" in problems_in(PIPELINES / "bad_syntax.yml")


def test_it_refuses_a_file_that_is_not_a_mapping() -> None:
    assert "bad_not_mapping.yml:1: (root): expected a mapping" in problems_in(
        PIPELINES / "bad_not_mapping.yml"
    )


def test_it_refuses_a_file_whose_type_the_engine_cannot_run() -> None:
    message = problems_in(PIPELINES / "bad_type.yml")

    assert "bad_type.yml:2: type: job type 'sweep' is not supported by the local engine" in message


def test_it_refuses_a_pipeline_without_jobs() -> None:
    assert "bad_no_jobs.yml:3: jobs: no jobs" in problems_in(PIPELINES / "bad_no_jobs.yml")


def test_it_refuses_a_sweep_job_naming_the_line() -> None:
    message = problems_in(PIPELINES / "bad_sweep.yml")

    assert (
        "bad_sweep.yml:7: jobs.tune.type: job type 'sweep' is not supported by the local engine "
        "(only command and pipeline jobs)"
    ) in message


def test_it_refuses_every_job_type_but_command_and_pipeline() -> None:
    problems = problems_in(PIPELINES / "bad_job_types.yml").splitlines()

    kinds = ["parallel", "spark", "automl", "sweep", "data_transfer", "import", "whatever"]
    assert len(problems) == len(kinds)
    for number, (problem, kind) in enumerate(zip(problems, kinds, strict=True)):
        job = "abcdefg"[number]
        assert (
            f"bad_job_types.yml:{4 + 2 * number}: jobs.{job}.type: job type '{kind}' is not supported"
            in problem
        )


def test_it_refuses_registered_components() -> None:
    message = problems_in(PIPELINES / "bad_registry_component.yml")

    assert (
        "bad_registry_component.yml:4: jobs.train.component: 'azureml:train_model:1': registered" in message
    )
    assert "bad_registry_component.yml:6: jobs.score.component:" in message
    assert "use a local component file" in message


def test_it_names_a_missing_component_file() -> None:
    message = problems_in(PIPELINES / "bad_missing_component.yml")

    assert (
        "bad_missing_component.yml:4: jobs.train.component: component file './components/nope.yml' not found"
        in message
    )


def test_it_points_into_an_invalid_component_file_once_however_many_jobs_use_it() -> None:
    problems = problems_in(PIPELINES / "bad_invalid_component.yml").splitlines()

    assert len(problems) == 2
    assert "components/broken.yml:7: inputs.epochs.default: 'many' is not an integer" in problems[0]
    assert "components/broken.yml:11: command: ${{inputs.seed}}: no input 'seed' is declared" in problems[1]


def test_it_names_an_unknown_pipeline_input() -> None:
    message = problems_in(PIPELINES / "bad_unknown_input.yml")

    assert (
        "bad_unknown_input.yml:9: jobs.train.inputs.rate: no pipeline input 'learning_rate' (rate)" in message
    )


def test_it_names_an_unknown_job() -> None:
    assert "bad_unknown_job.yml:7: jobs.train.inputs.data: no job 'prep'" in problems_in(
        PIPELINES / "bad_unknown_job.yml"
    )


def test_it_names_an_unknown_output_of_a_job() -> None:
    message = problems_in(PIPELINES / "bad_unknown_output.yml")

    assert (
        "bad_unknown_output.yml:13: jobs.train.inputs.data: job 'prep' has no output 'dataset' (data)"
        in message
    )


def test_it_names_an_unknown_pipeline_output() -> None:
    message = problems_in(PIPELINES / "bad_unknown_pipeline_output.yml")

    assert (
        "bad_unknown_pipeline_output.yml:10: jobs.train.outputs.model: no pipeline output 'trained_model'"
        in message
    )


def test_it_names_what_a_command_uses_but_does_not_declare() -> None:
    message = problems_in(PIPELINES / "bad_undeclared_in_command.yml")

    assert (
        "bad_undeclared_in_command.yml:5: jobs.train.command: ${{outputs.model}}: no output 'model'"
        in message
    )


def test_it_refuses_a_malformed_expression() -> None:
    message = problems_in(PIPELINES / "bad_malformed_expression.yml")

    assert "bad_malformed_expression.yml:9: jobs.train.inputs.rate: malformed expression" in message


def test_it_names_the_jobs_in_a_cycle() -> None:
    message = problems_in(PIPELINES / "bad_cycle.yml")

    assert message == f"{PIPELINES / 'bad_cycle.yml'}:9: jobs.a: jobs form a cycle: a -> b -> c -> a"


def test_it_names_a_missing_required_input() -> None:
    message = problems_in(PIPELINES / "bad_missing_required_input.yml")

    assert (
        "bad_missing_required_input.yml:5: jobs.train.inputs.data: missing required input 'data'" in message
    )


def test_it_refuses_literals_of_the_wrong_type() -> None:
    message = problems_in(PIPELINES / "bad_literal_type.yml")

    assert "bad_literal_type.yml:5: inputs.epochs.default: 'abc' is not an integer" in message
    assert "bad_literal_type.yml:13: jobs.train.inputs.learning_rate: 'fast' is not a number" in message


def test_it_names_a_local_path_that_does_not_exist() -> None:
    message = problems_in(PIPELINES / "bad_missing_path.yml")

    assert "bad_missing_path.yml:5: inputs.table.path: path './data/nope.csv' does not exist" in message
    assert "bad_missing_path.yml:12: jobs.train.inputs.data.path: path './data/missing_folder'" in message


def test_it_refuses_a_job_without_a_command() -> None:
    assert "bad_no_command.yml:3: jobs.train.command: no command" in problems_in(
        PIPELINES / "bad_no_command.yml"
    )


def test_it_reports_all_problems_at_once_in_line_order() -> None:
    with pytest.raises(SpecError) as caught:
        load_pipeline(PIPELINES / "bad_many_problems.yml")

    assert [(p.line, p.field) for p in caught.value.problems] == [
        (6, "jobs.tune.type"),
        (11, "jobs.train.inputs.rate"),
        (14, "jobs.report.component"),
    ]


def test_it_refuses_a_pipeline_output_bound_by_two_jobs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """type: pipeline
outputs:
  model: {type: uri_folder}
jobs:
  a:
    command: echo ${{outputs.m}}
    outputs: {m: "${{parent.outputs.model}}"}
  b:
    command: echo ${{outputs.m}}
    outputs:
      m: ${{parent.outputs.model}}
""",
    )

    assert (
        "pipeline.yml:11: jobs.b.outputs.m: pipeline output 'model' is already bound by jobs.a"
        in problems_in(path)
    )


def test_it_refuses_a_component_input_bound_to_a_value_of_another_type(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(
        "type: command\ninputs:\n  n: {type: integer}\ncommand: echo ${{inputs.n}}\n"
    )
    path = write(
        tmp_path,
        """type: pipeline
inputs:
  name: abc
jobs:
  a:
    component: c.yml
    inputs:
      n: ${{parent.inputs.name}}
""",
    )

    assert (
        "pipeline.yml:8: jobs.a.inputs.n: expects integer but pipeline input 'name' is string"
        in problems_in(path)
    )


def test_it_refuses_a_missing_code_folder_and_an_unmapped_datastore_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """type: pipeline
inputs:
  data: {type: uri_folder, path: "azureml://datastores/blob/paths/data"}
jobs:
  a:
    code: ./src
    command: python a.py
""",
    )

    message = problems_in(path)
    assert (
        "pipeline.yml:3: inputs.data.path: 'azureml://datastores/blob/paths/data': datastore 'blob' is not mapped"
        in message
    )
    assert "pipeline.yml:6: jobs.a.code: code folder './src' not found" in message


def test_a_problem_reads_as_file_line_field_message() -> None:
    problem = SpecProblem("p.yml", 7, "jobs.tune.type", "not supported")

    assert str(problem) == "p.yml:7: jobs.tune.type: not supported"
    assert str(SpecError([problem, problem._replace(line=9)])).splitlines() == [
        "p.yml:7: jobs.tune.type: not supported",
        "p.yml:9: jobs.tune.type: not supported",
    ]


def test_a_stored_spec_keeps_the_files_order_of_jobs_and_inputs_whatever_the_json_store_does() -> None:
    spec = load_pipeline(EXAMPLES / "pipeline-component" / "pipeline.yml")
    stored = json.loads(json.dumps(spec.to_dict()))
    # PostgreSQL's jsonb gives keys back sorted by length, then bytes.
    for key in ("jobs", "inputs", "outputs"):
        stored[key] = dict(sorted(stored[key].items(), key=lambda item: (len(item[0]), item[0])))

    again = PipelineSpec.from_dict(stored)

    assert list(again.jobs) == list(spec.jobs)
    assert list(again.inputs) == list(spec.inputs) == ["houses", "epochs"]
    assert again.topological_order() == spec.topological_order()
