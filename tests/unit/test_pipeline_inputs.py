"""A pipeline's inputs as the local engine describes them to a submit form (backends/local/submission.py
pipeline_inputs): each with every rule its value must keep, those of the job inputs it feeds included, and
required exactly when a run would be refused without a value for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.inputs import combined_rules, rule_problem
from backends.local.spec import SpecError, load_pipeline
from backends.local.submission import pipeline_inputs

TRAIN = """\
type: command
name: train
command: python train.py --epochs ${{inputs.epochs}} --mode ${{inputs.mode}}$[[ --seed ${{inputs.seed}}]]
inputs:
  epochs: {type: integer, min: 1, max: 50}
  mode: {type: string, enum: [fast, careful, exhaustive]}
  seed: {type: integer, optional: true}
"""

PIPELINE = """\
type: pipeline
inputs:
  epochs: {type: integer, default: 10, min: 5, max: 100}
  mode: {type: string, enum: [careful, fast, slow]}
  seed: {type: integer}
  unused: {type: string}
jobs:
  train:
    component: ./train.yml
    inputs:
      epochs: ${{parent.inputs.epochs}}
      mode: ${{parent.inputs.mode}}
      seed: ${{parent.inputs.seed}}
"""


@pytest.fixture
def inputs(tmp_path: Path) -> dict:
    (tmp_path / "train.yml").write_text(TRAIN)
    (tmp_path / "pipeline.yml").write_text(PIPELINE)
    spec = load_pipeline(tmp_path / "pipeline.yml")
    return {i.name: i for i in pipeline_inputs(spec)}, spec


def test_each_input_keeps_the_rules_of_the_job_inputs_it_feeds(inputs):
    described, _ = inputs

    assert (described["epochs"].min, described["epochs"].max) == (
        5,
        50,
    )  # the higher minimum, the lower maximum
    assert described["mode"].enum == ("careful", "fast")  # the values both take, in the pipeline's order
    assert list(described) == ["epochs", "mode", "seed", "unused"]


def test_an_input_is_required_when_a_run_would_be_refused_without_it(inputs):
    described, spec = inputs

    assert described["epochs"].required  # a default, not optional: it cannot be cleared
    assert described["mode"].required  # no default, and the job's command uses it
    assert not described["seed"].required  # only in an optional segment of the command
    assert not described["unused"].required  # no job reads it
    refused = {p.field for p in spec.missing_values()}
    assert refused == {"inputs.mode"}


@pytest.mark.parametrize("value", [4, 5, 50, 51])
def test_the_described_rules_refuse_a_value_exactly_when_the_engine_does(inputs, value):
    described, spec = inputs
    epochs = described["epochs"]

    form_refuses = rule_problem(value, {"min": epochs.min, "max": epochs.max}) is not None

    assert form_refuses is _refused(spec, "epochs", value)


def _refused(spec, name: str, value) -> bool:
    try:
        spec.with_parameters({name: value})
    except SpecError:
        return True
    return False


def test_rules_with_nothing_in_common_leave_no_value():
    assert combined_rules({"enum": ["a", "b"]}, {"enum": ["c"]}) == {"enum": []}
    assert combined_rules(None, {"min": 2}, {"min": None}) == {"min": 2}
