"""Job files as `az ml job create -f` takes them (backends/local/jobfile.py): standalone command jobs run as one
step, job types the engine cannot run refused at their line, typed inputs and their ranges, required values."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.local.spec import SpecError, load_pipeline


def write(tmp_path: Path, text: str, name: str = "job.yml") -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_pipeline(path)
    return [str(p).removeprefix(f"{path}:") for p in caught.value.problems]


COMMAND_JOB = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
name: train_job
display_name: Train a model
experiment_name: house-prices
description: One command, as on Azure ML.
tags: {team: pricing}
code: ./src
command: >-
  python train.py --data ${{inputs.data}} --lr ${{inputs.lr}}
  $[[--label "${{inputs.label}}"]] --model ${{outputs.model}}
inputs:
  data: {type: uri_folder, path: ./src}
  lr: 0.01
  label: {type: string, optional: true}
outputs:
  model: {type: uri_folder}
environment: azureml:AzureML-sklearn-1.5@latest
environment_variables: {LOG_LEVEL: debug, RETRIES: 3}
compute: azureml:cpu-cluster
limits: {timeout: 600}
"""


def test_a_command_job_is_a_run_of_one_step_named_by_the_job(tmp_path: Path) -> None:
    spec = load_pipeline(write(tmp_path, COMMAND_JOB))

    assert spec.kind == "command"
    assert list(spec.jobs) == ["train_job"]
    assert (spec.display_name, spec.experiment_name, spec.tags) == (
        "Train a model",
        "house-prices",
        {"team": "pricing"},
    )
    assert spec.description == "One command, as on Azure ML."
    step = spec.jobs["train_job"]
    assert step.code == str(tmp_path / "src")
    assert step.environment == "azureml:AzureML-sklearn-1.5@latest"
    assert step.environment_variables == {"LOG_LEVEL": "debug", "RETRIES": "3"}
    assert (step.compute, step.timeout) == ("azureml:cpu-cluster", 600)
    # Its inputs are the job's, with their values, so --set and reuse work as for a pipeline's.
    assert spec.inputs["lr"].default == 0.01
    assert spec.inputs["data"].default == str(tmp_path / "src")
    assert spec.inputs["label"].optional
    assert {n: b.source for n, b in step.inputs.items()} == {"data": "data", "lr": "lr", "label": "label"}
    assert spec.with_parameters({"lr": "0.5"}).inputs["lr"].default == 0.5
    assert list(step.outputs) == ["model"]


def test_a_command_job_without_a_name_takes_the_files_stem(tmp_path: Path) -> None:
    spec = load_pipeline(write(tmp_path, "command: echo hi\n", name="hello-world.yml"))

    assert list(spec.jobs) == ["hello_world"]
    assert spec.kind == "command"


def test_a_command_jobs_problems_name_its_fields_as_written(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "type: command\ncommand: echo ${{inputs.missing}}\nlimits: {timeout: soon}\ncode: ./nowhere\n",
    )

    found = problems(path)

    assert any(p.startswith("2: command: ${{inputs.missing}}: no input 'missing'") for p in found), found
    assert any(p.startswith("3: limits.timeout:") for p in found), found
    assert any(p.startswith("4: code: code folder './nowhere' not found") for p in found), found
    assert not any("jobs." in p for p in found), found


def test_a_command_job_that_names_a_component_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "type: command\ncommand: echo\ncomponent: ./c.yml\n")

    assert "3: component: a command job runs its own command, not a component" in problems(path)


@pytest.mark.parametrize("kind", ["sweep", "parallel", "spark", "automl", "import"])
def test_a_job_type_the_engine_cannot_run_is_refused_at_its_line(tmp_path: Path, kind: str) -> None:
    path = write(tmp_path, f"$schema: x\nexperiment_name: e\ntype: {kind}\n")

    (problem,) = problems(path)

    assert problem.startswith(f"3: type: job type '{kind}' is not supported by the local engine")
    assert "expected 'type: pipeline'" not in problem


def test_a_pipeline_step_of_a_type_the_engine_cannot_run_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "type: pipeline\njobs:\n  tune:\n    type: sweep\n    trial: ./t.yml\n")

    (problem,) = problems(path)

    assert problem.startswith("4: jobs.tune.type: job type 'sweep' is not supported by the local engine")


def test_a_registered_component_is_refused_as_not_runnable_locally(tmp_path: Path) -> None:
    path = write(tmp_path, "type: pipeline\njobs:\n  a:\n    component: azureml:train_component:3\n")

    (problem,) = problems(path)

    assert problem.startswith("4: jobs.a.component: 'azureml:train_component:3': registered components")


def test_a_file_without_type_is_read_by_what_it_holds(tmp_path: Path) -> None:
    assert load_pipeline(write(tmp_path, "command: echo hi\n")).kind == "command"
    assert load_pipeline(write(tmp_path, "jobs:\n  a:\n    command: echo hi\n")).kind == "pipeline"
    assert problems(write(tmp_path, "display_name: neither\n")) == [
        "1: type: missing: a job file says its type (pipeline or command)"
    ]


# --- typed values and their ranges --------------------------------------------------------------------------

COMPONENT = """\
type: command
name: train
command: python -c "" ${{inputs.mode}} ${{inputs.epochs}} ${{inputs.rate}}
inputs:
  mode: {type: string, enum: [fast, slow], default: fast}
  epochs: {type: integer, min: 1, max: 100}
  rate: {type: number, min: 0, max: 1, default: 0.5}
"""


def pipeline_with(tmp_path: Path, inputs: str, pipeline_inputs: str = "") -> Path:
    (tmp_path / "train.yml").write_text(COMPONENT)
    text = (
        f"type: pipeline\n{pipeline_inputs}jobs:\n  train:\n    component: ./train.yml\n    inputs:\n{inputs}"
    )
    return write(tmp_path, text, name="pipeline.yml")


def test_values_out_of_an_inputs_range_or_enum_are_refused_at_their_line(tmp_path: Path) -> None:
    path = pipeline_with(tmp_path, "      mode: quick\n      epochs: 0\n      rate: 1.5\n")

    assert problems(path) == [
        "6: jobs.train.inputs.mode: 'quick' is not one of 'fast', 'slow'",
        "7: jobs.train.inputs.epochs: 0 is below the minimum, 1",
        "8: jobs.train.inputs.rate: 1.5 is above the maximum, 1",
    ]


def test_a_value_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    path = pipeline_with(tmp_path, "      epochs: many\n")

    (problem,) = problems(path)

    assert problem.startswith("6: jobs.train.inputs.epochs: ") and "integer" in problem


def test_a_pipeline_input_bound_to_a_ranged_input_is_checked_against_the_range(tmp_path: Path) -> None:
    path = pipeline_with(
        tmp_path, "      epochs: ${{parent.inputs.epochs}}\n", pipeline_inputs="inputs:\n  epochs: 500\n"
    )

    (problem,) = problems(path)

    assert (
        problem
        == "8: jobs.train.inputs.epochs: pipeline input 'epochs' is 500, which is above the maximum, 100"
    )


def test_a_value_given_at_submit_is_checked_against_the_ranges_it_reaches(tmp_path: Path) -> None:
    path = pipeline_with(
        tmp_path, "      epochs: ${{parent.inputs.epochs}}\n", pipeline_inputs="inputs:\n  epochs: 5\n"
    )
    spec = load_pipeline(path)

    with pytest.raises(SpecError) as caught:
        spec.with_parameters({"epochs": "101"})

    assert "jobs.train.inputs.epochs: 101 is above the maximum, 100" in str(caught.value)
    assert spec.with_parameters({"epochs": "100"}).inputs["epochs"].default == 100


def test_a_range_on_an_input_that_cannot_have_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "train.yml").write_text(
        "type: command\ncommand: echo ${{inputs.a}}\ninputs:\n  a: {type: string, min: 3}\n"
    )
    path = write(tmp_path, "jobs:\n  t:\n    component: ./train.yml\n    inputs: {a: x}\n")

    with pytest.raises(SpecError) as caught:
        load_pipeline(path)

    # The problem is the component file's, at its own line.
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path / 'train.yml'}:4: inputs.a.min: expected a number bounding a string input"
    ]


# --- required values ----------------------------------------------------------------------------------------


def test_a_required_component_input_left_unbound_is_refused_naming_it_and_the_job(tmp_path: Path) -> None:
    path = pipeline_with(tmp_path, "      mode: slow\n")

    (problem,) = problems(path)

    assert (
        problem
        == "5: jobs.train.inputs.epochs: missing required input 'epochs' (component 'train' gives no default)"
    )


def test_a_pipeline_input_without_a_value_is_missing_until_given_one(tmp_path: Path) -> None:
    path = pipeline_with(
        tmp_path,
        "      epochs: ${{parent.inputs.epochs}}\n",
        pipeline_inputs="inputs:\n  epochs: {type: integer}\n",
    )
    spec = load_pipeline(path)

    (missing,) = spec.missing_values()

    assert str(missing).endswith(
        "inputs.epochs: job 'train' needs a value for input 'epochs', and pipeline input 'epochs' has none: "
        "give it a default, or a value with --set epochs=..."
    )
    assert spec.with_parameters({"epochs": "3"}).missing_values() == []


def test_an_input_used_only_inside_an_optional_segment_needs_no_value(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "type: command\ncommand: echo $[[--label ${{inputs.label}}]] ${{inputs.n}}\n"
        "inputs:\n  label: {type: string}\n  n: {type: integer}\n",
    )
    spec = load_pipeline(path)

    assert [p.field for p in spec.missing_values()] == ["inputs.n"]


# --- distribution ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, expected",
    [
        (
            "distribution: {type: pytorch, process_count_per_instance: 2}\nresources: {instance_count: 2}\n",
            ({"type": "pytorch", "processes_per_instance": 2}, 2),
        ),
        (
            "distribution: {type: mpi, process_count_per_instance: 3}\n",
            ({"type": "mpi", "processes_per_instance": 3}, 1),
        ),
        (
            "distribution: {type: tensorflow, worker_count: 2, parameter_server_count: 1}\n",
            ({"type": "tensorflow", "processes_per_instance": 2, "parameter_servers": 1}, 1),
        ),
        ("", (None, 1)),
    ],
)
def test_a_distribution_says_how_many_processes_the_step_starts(
    tmp_path: Path, fields: str, expected
) -> None:
    spec = load_pipeline(write(tmp_path, f"type: command\ncommand: python train.py\n{fields}"))

    (step,) = spec.jobs.values()
    assert (step.distribution, step.instance_count) == expected


@pytest.mark.parametrize(
    "fields, problem",
    [
        (
            "resources: {instance_count: 2}\n",
            "3: resources.instance_count: instance_count above 1 needs a distribution",
        ),
        ("distribution: {type: ray}\n", "3: distribution.type: expected one of pytorch, tensorflow, mpi"),
        (
            "distribution: {type: pytorch, process_count_per_instance: 40}\nresources: {instance_count: 2}\n",
            "3: distribution.process_count_per_instance: 80 processes: the local engine starts 1 to 64",
        ),
        (
            "distribution: {type: mpi, process_count_per_instance: two}\n",
            "3: distribution.process_count_per_instance: expected a whole number",
        ),
    ],
)
def test_a_distribution_the_engine_cannot_start_is_refused_never_ignored(
    tmp_path: Path, fields: str, problem: str
) -> None:
    found = problems(write(tmp_path, f"type: command\ncommand: python train.py\n{fields}"))

    assert any(p.startswith(problem) for p in found), found
