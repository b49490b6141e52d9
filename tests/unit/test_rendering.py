"""A command rendered exactly as Azure ML renders it: values replaced once, no quoting added or removed, optional
segments $[[ ]] kept or dropped whole, plain brackets left alone."""

from __future__ import annotations

import pytest

from backends.local.rendering import optional_inputs, render_command


def test_each_placeholder_is_replaced_by_its_value_spaces_in_the_braces_allowed():
    command = render_command(
        "python train.py --lr ${{inputs.lr}} --epochs ${{ inputs.epochs }} --out ${{outputs.model}}",
        {"lr": 0.1, "epochs": 3},
        {"model": "/runs/1/model"},
    )

    assert command == "python train.py --lr 0.1 --epochs 3 --out /runs/1/model"


def test_no_quoting_is_added_or_removed_a_value_in_the_users_quotes_stays_in_them():
    command = render_command(
        "echo \"${{inputs.a}}\" '${{inputs.b}}' ${{inputs.c}}",
        {"a": "two words", "b": "it has $HOME", "c": "--flag=x y"},
        {},
    )

    assert command == "echo \"two words\" 'it has $HOME' --flag=x y"


def test_a_value_is_replaced_once_a_placeholder_inside_it_stays_as_it_is():
    command = render_command("echo ${{inputs.a}} ${{inputs.b}}", {"a": "${{inputs.b}}", "b": "B"}, {})

    assert command == "echo ${{inputs.b}} B"


def test_an_optional_segment_is_kept_without_its_markers_when_its_inputs_have_values_and_dropped_when_not():
    template = (
        "python train.py $[[--lr ${{inputs.lr}}]] $[[--label ${{inputs.label}}]] --out ${{outputs.model}}"
    )

    command = render_command(template, {"lr": 0.5, "label": None}, {"model": "/m"})

    assert command == "python train.py --lr 0.5  --out /m"


def test_an_optional_segment_with_two_inputs_is_dropped_when_either_has_no_value():
    template = "run $[[--range ${{inputs.lo}}:${{inputs.hi}}]]"

    assert render_command(template, {"lo": 1, "hi": 2}, {}) == "run --range 1:2"
    assert render_command(template, {"lo": 1, "hi": None}, {}) == "run "


def test_plain_square_brackets_are_ordinary_characters():
    command = render_command("python -c 'print([1, 2])' [--n ${{inputs.n}}]", {"n": 3}, {})

    assert command == "python -c 'print([1, 2])' [--n 3]"


def test_a_placeholder_without_a_value_outside_an_optional_segment_is_an_error():
    with pytest.raises(ValueError, match="outside"):
        render_command("echo ${{inputs.a}}", {"a": None}, {})
    with pytest.raises(ValueError, match="given no value"):
        render_command("echo ${{inputs.missing}}", {}, {})


def test_values_are_spelled_as_python_spells_them_as_azure_ml_does():
    assert render_command(
        "x ${{inputs.a}} ${{inputs.b}} ${{inputs.c}}", {"a": True, "b": 1e-05, "c": 3}, {}
    ) == ("x True 1e-05 3")


def test_an_input_used_only_in_optional_segments_may_go_without_a_value():
    template = "train $[[--lr ${{inputs.lr}}]] --data ${{inputs.data}} $[[--seed ${{inputs.data}}]]"

    assert optional_inputs(template) == {"lr"}
