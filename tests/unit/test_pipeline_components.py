"""Pipeline components used as jobs (backends/local/jobfile.py, nested.py): their jobs become steps named
<parent node>.<job>, bound to what the parent node gives them; their problems are reported in their own files."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.local.spec import SpecError, load_pipeline

EXAMPLE = Path(__file__).parents[2] / "examples" / "pipeline-component" / "pipeline.yml"

ECHO = """\
type: command
name: echo
command: echo ${{inputs.word}} > ${{outputs.said}}/said.txt
inputs:
  word: {type: string}
outputs:
  said: {type: uri_folder}
"""

COPY = """\
type: command
name: copy
command: cp -r ${{inputs.folder}} ${{outputs.copied}}
inputs:
  folder: {type: uri_folder}
outputs:
  copied: {type: uri_folder}
"""

INNER = """\
type: pipeline
name: twice
inputs:
  word: {type: string}
  times: {type: integer, default: 2, min: 1, max: 5}
outputs:
  last: {type: uri_folder}
jobs:
  first:
    component: ./echo.yml
    inputs: {word: "${{parent.inputs.word}}"}
  second:
    component: ./copy.yml
    inputs: {folder: "${{parent.jobs.first.outputs.said}}"}
    outputs: {copied: "${{parent.outputs.last}}"}
"""


def files(tmp_path: Path, outer: str, inner: str = INNER) -> Path:
    (tmp_path / "echo.yml").write_text(ECHO)
    (tmp_path / "copy.yml").write_text(COPY)
    (tmp_path / "twice.yml").write_text(inner)
    path = tmp_path / "pipeline.yml"
    path.write_text(outer)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_pipeline(path)
    return [str(p).replace(f"{path.parent}/", "") for p in caught.value.problems]


def test_the_example_flattens_each_component_into_steps_under_its_node() -> None:
    spec = load_pipeline(EXAMPLE)

    assert list(spec.jobs) == [
        "prep",
        "careful.train",
        "careful.evaluate",
        "quick.train",
        "quick.evaluate",
        "compare",
    ]
    careful, quick = spec.jobs["careful.train"], spec.jobs["quick.train"]
    assert careful.inputs["learning_rate"].value == 0.05 and quick.inputs["learning_rate"].value == 0.3
    # careful's epochs come from the outer pipeline; quick's from the component's default.
    assert (careful.inputs["epochs"].kind, careful.inputs["epochs"].source) == ("pipeline_input", "epochs")
    assert (quick.inputs["epochs"].kind, quick.inputs["epochs"].value) == ("literal", 100)
    assert careful.inputs["prepared"].source == "prep"
    assert spec.jobs["careful.evaluate"].inputs["model"].source == "careful.train"
    assert spec.jobs["careful.evaluate"].outputs["report"].pipeline_output == "careful_report"
    assert spec.jobs["quick.evaluate"].outputs["report"].pipeline_output is None
    assert spec.upstream("compare") == {"careful.evaluate", "quick.evaluate"}
    assert spec.jobs["careful.train"].compute == "azureml:cpu-cluster"


def test_a_value_given_at_submit_reaches_the_components_jobs_and_their_ranges() -> None:
    spec = load_pipeline(EXAMPLE)

    with pytest.raises(SpecError) as caught:
        spec.with_parameters({"epochs": "0"})

    assert "jobs.careful.train.inputs.epochs: 0 is below the minimum, 1" in str(caught.value)


def test_an_inline_pipeline_component_runs_as_a_file_does(tmp_path: Path) -> None:
    inline = "\n".join("      " + line for line in INNER.splitlines())
    path = files(
        tmp_path,
        f"type: pipeline\njobs:\n  t:\n    type: pipeline\n    component:\n{inline}\n    inputs: {{word: hi}}\n",
    )

    spec = load_pipeline(path)

    assert list(spec.jobs) == ["t.first", "t.second"]
    assert spec.jobs["t.first"].inputs["word"].value == "hi"


def test_components_nested_twice_name_their_steps_by_the_whole_path(tmp_path: Path) -> None:
    (tmp_path / "outer.yml").write_text(
        "type: pipeline\ninputs:\n  w: {type: string}\njobs:\n  inner:\n    component: ./twice.yml\n"
        "    inputs: {word: '${{parent.inputs.w}}'}\n"
    )
    path = files(tmp_path, "jobs:\n  a:\n    component: ./outer.yml\n    inputs: {w: deep}\n")

    spec = load_pipeline(path)

    assert list(spec.jobs) == ["a.inner.first", "a.inner.second"]
    assert spec.jobs["a.inner.first"].inputs["word"].value == "deep"
    assert spec.jobs["a.inner.second"].inputs["folder"].source == "a.inner.first"


def test_a_component_that_includes_itself_is_refused_with_the_chain(tmp_path: Path) -> None:
    (tmp_path / "loop.yml").write_text("type: pipeline\njobs:\n  again:\n    component: ./loop.yml\n")
    path = files(tmp_path, "jobs:\n  a:\n    component: ./loop.yml\n")

    assert problems(path) == [
        "loop.yml:4: jobs.again.component: pipeline components include each other: loop.yml -> loop.yml"
    ]


def test_a_required_input_of_the_component_left_unbound_is_refused_naming_it(tmp_path: Path) -> None:
    path = files(tmp_path, "jobs:\n  t:\n    type: pipeline\n    component: ./twice.yml\n")

    assert problems(path) == [
        "pipeline.yml:2: jobs.t.inputs.word: missing required input 'word' (component 'twice' gives no default)"
    ]


def test_a_value_out_of_the_components_range_is_refused_at_its_line(tmp_path: Path) -> None:
    path = files(
        tmp_path, "jobs:\n  t:\n    component: ./twice.yml\n    inputs:\n      word: hi\n      times: 9\n"
    )

    assert problems(path) == ["pipeline.yml:6: jobs.t.inputs.times: 9 is above the maximum, 5"]


def test_a_problem_inside_the_component_is_reported_in_its_own_file(tmp_path: Path) -> None:
    path = files(
        tmp_path,
        "jobs:\n  t:\n    component: ./twice.yml\n    inputs: {word: hi}\n",
        inner=INNER.replace("${{parent.jobs.first.outputs.said}}", "${{parent.jobs.nobody.outputs.said}}"),
    )

    assert problems(path) == ["twice.yml:14: jobs.second.inputs.folder: no job 'nobody' (first, second)"]


def test_an_output_of_the_component_that_no_job_writes_is_refused(tmp_path: Path) -> None:
    path = files(
        tmp_path,
        "jobs:\n  t:\n    component: ./twice.yml\n    inputs: {word: hi}\n",
        inner=INNER.replace('    outputs: {copied: "${{parent.outputs.last}}"}\n', ""),
    )

    assert problems(path) == ["twice.yml:7: outputs.last: no job writes it"]


def test_a_pipeline_job_needs_a_pipeline_component_and_a_command_job_a_command_one(tmp_path: Path) -> None:
    path = files(
        tmp_path,
        "jobs:\n  a:\n    type: pipeline\n    jobs: {}\n"
        "  b:\n    type: pipeline\n    component: ./echo.yml\n    inputs: {word: x}\n"
        "  c:\n    type: command\n    component: ./twice.yml\n    inputs: {word: x}\n"
        "  d:\n    component: ./twice.yml\n    command: echo\n    inputs: {word: x}\n",
    )

    assert problems(path) == [
        "pipeline.yml:2: jobs.a.component: a pipeline job inside a pipeline runs a pipeline component: "
        "component: ./pipeline.yml",
        "pipeline.yml:6: jobs.b.type: a pipeline job cannot run a command component (its type: command)",
        "pipeline.yml:10: jobs.c.type: a command job cannot run a pipeline component (its type: pipeline)",
        "pipeline.yml:15: jobs.d.command: a job that uses a component cannot set its own command; change the "
        "component",
        "pipeline.yml:15: jobs.d.command: a job running a pipeline component cannot set command; set it on the "
        "component's jobs",
    ]


def test_an_outer_job_reading_a_component_output_no_job_writes_is_refused(tmp_path: Path) -> None:
    path = files(
        tmp_path,
        "jobs:\n  t:\n    component: ./twice.yml\n    inputs: {word: hi}\n"
        "  after:\n    command: cat ${{inputs.x}}\n    inputs: {x: '${{parent.jobs.t.outputs.nothing}}'}\n",
    )

    assert problems(path) == ["pipeline.yml:7: jobs.after.inputs.x: job 't' has no output 'nothing' (last)"]
