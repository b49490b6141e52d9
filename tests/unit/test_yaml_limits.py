"""The limits on the YAML a user hands the loaders (backends/yamlfile.py), through the loaders that apply them."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backends import yamlfile
from backends.local.schedule_spec import load_schedule
from backends.local.spec import SpecError, SpecProblem, load_pipeline
from tests import hostile

EXAMPLES = Path(__file__).parents[2] / "examples"
NOW = datetime(2026, 5, 1, 12, 7, 42, tzinfo=UTC)
ALIAS_LIMIT = "exceeds the limit of 50,000 values (each alias counted as a copy)"


def refused(load: Callable[[Path], object], path: Path) -> tuple[list[str], float]:
    """The problems a load reports, one string each, and the seconds it took to report them."""
    start = time.monotonic()
    with pytest.raises(SpecError) as caught:
        load(path)
    return [str(p) for p in caught.value.problems], time.monotonic() - start


def schedule(path: Path) -> object:
    return load_schedule(path, NOW)


def component_pipeline(folder: Path, *components: str) -> Path:
    jobs = "".join(f"  job{n}:\n    component: ./{name}\n" for n, name in enumerate(components))
    path = folder / "pipeline.yml"
    path.write_text(f"type: pipeline\njobs:\n{jobs}")
    return path


# --- the hostile files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("load", [load_pipeline, schedule])
def test_the_billion_laughs_is_refused_in_well_under_a_second_and_a_few_megabytes(load, tmp_path):
    path = hostile.billion_laughs(tmp_path)

    tracemalloc.start()
    try:
        problems, took = refused(load, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert problems == [f"{path}:5: yaml: alias *d: {ALIAS_LIMIT}"]
    assert took < 1
    assert peak < 5_000_000


@pytest.mark.parametrize("load", [load_pipeline, schedule])
def test_a_20000_deep_nesting_is_refused_in_well_under_a_second(load, tmp_path):
    path = hostile.deep(tmp_path)

    problems, took = refused(load, path)

    assert problems == [f"{path}:1: yaml: nests deeper than the limit of 64 levels"]
    assert took < 1


@pytest.mark.parametrize("load", [load_pipeline, schedule])
def test_a_50_mb_file_is_refused_before_it_is_parsed(load, tmp_path):
    path = hostile.oversized(tmp_path)

    problems, took = refused(load, path)

    assert problems == [f"{path}: {path.stat().st_size:,} bytes exceeds the limit of 1 MB per YAML file"]
    assert took < 1


@pytest.mark.parametrize("load", [load_pipeline, schedule])
def test_a_binary_file_is_refused_naming_the_line_of_its_first_nul_byte(load, tmp_path):
    path = hostile.binary(tmp_path)

    problems, _ = refused(load, path)

    assert problems == [f"{path}:2: binary content (a NUL byte), not YAML text"]


def test_a_file_that_is_not_utf8_is_refused_naming_the_line_of_the_bad_byte(tmp_path):
    path = tmp_path / "pipeline.yml"
    path.write_bytes("type: pipeline\ndescription: café\n".encode("latin-1"))

    problems, _ = refused(load_pipeline, path)

    assert problems == [f"{path}:2: not UTF-8 text (byte 0xe9)"]


def test_a_file_just_over_the_size_limit_is_refused_and_one_at_the_limit_is_read(tmp_path):
    at_limit = tmp_path / "at-limit.yml"
    at_limit.write_text("# " + "x" * (yamlfile.MAX_FILE_BYTES - 3) + "\n")
    over = tmp_path / "over.yml"
    over.write_text("# " + "x" * (yamlfile.MAX_FILE_BYTES - 2) + "\n")

    assert len(yamlfile.read_text(at_limit, "at-limit.yml", yamlfile.Budget())) == yamlfile.MAX_FILE_BYTES
    with pytest.raises(yamlfile.YamlRefused, match=r"^over.yml: 1,000,001 bytes exceeds the limit of 1 MB"):
        yamlfile.read_text(over, "over.yml", yamlfile.Budget())


# --- nesting and aliases -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "nested",
    [
        lambda levels: "[" * levels + "]" * levels,
        lambda levels: "".join(f"{'  ' * n}k:\n" for n in range(levels)) + "  " * levels + "v\n",
        lambda levels: "- " * levels + "v\n",
    ],
    ids=["flow", "block mappings", "block lists"],
)
def test_nesting_to_the_limit_loads_and_one_level_more_is_refused(nested):
    yamlfile.parse(nested(yamlfile.MAX_DEPTH), "ok.yml", yamlfile.Budget())

    with pytest.raises(yamlfile.YamlRefused, match=r"^deep.yml:\d+: yaml: nests deeper than the limit of 64"):
        yamlfile.parse(nested(yamlfile.MAX_DEPTH + 1), "deep.yml", yamlfile.Budget())


def test_an_alias_costs_as_many_values_as_the_one_it_names():
    budget = yamlfile.Budget()

    doc = yamlfile.parse("a: &a [1, 2, 3]\nb: *a\n", "f.yml", budget)

    # the mapping, key a, the list and its three items, key b, then the list and its three items again
    assert yamlfile.MAX_NODES - budget.nodes == 1 + 1 + 4 + 1 + 4
    assert doc["b"] == [1, 2, 3]


def test_a_document_with_more_values_than_its_budget_is_refused_on_the_line_that_crosses_it():
    with pytest.raises(yamlfile.YamlRefused) as caught:
        yamlfile.parse("a: 1\nb: 2\nc: 3\n", "f.yml", yamlfile.Budget(nodes=5))

    assert caught.value.line == 3
    assert caught.value.message.startswith("exceeds the limit of")


def test_an_alias_inside_the_value_it_names_is_refused(tmp_path):
    path = tmp_path / "pipeline.yml"
    path.write_text("type: pipeline\ntags: &t\n  self: *t\n")

    problems, _ = refused(load_pipeline, path)

    assert problems == [f"{path}:3: yaml: alias *t is inside the value it names, which would never end"]


def test_a_reused_anchor_names_its_latest_value_and_prints_no_warning(capsys):
    doc = yamlfile.parse("a: &x 1\nb: &x [2]\nc: *x\n", "f.yml", yamlfile.Budget())

    assert doc["c"] == [2]
    assert capsys.readouterr().err == ""


# --- one budget for every file of a load ---------------------------------------------------------------------


def test_a_component_file_past_a_limit_is_refused_naming_the_component_file(tmp_path):
    laughs = hostile.billion_laughs(tmp_path)
    path = component_pipeline(tmp_path, laughs.name)

    problems, took = refused(load_pipeline, path)

    assert problems == [f"{laughs}:5: yaml: alias *d: {ALIAS_LIMIT}"]
    assert took < 1


def test_the_files_of_one_pipeline_share_one_budget_of_bytes(tmp_path):
    # Five component files under the limit for one file, over the limit for one load together.
    names = [f"c{n}.yml" for n in range(5)]
    for name in names:
        (tmp_path / name).write_text("command: echo\n#" + " " * 850_000 + "\n")
    path = component_pipeline(tmp_path, *names)

    problems, _ = refused(load_pipeline, path)

    assert problems == [
        f"{tmp_path / 'c4.yml'}: the files read together exceed the limit of 4 MB for one load"
    ]


def test_a_schedule_whose_pipeline_is_past_a_limit_names_the_pipeline_file(tmp_path):
    deep = hostile.deep(tmp_path)
    path = tmp_path / "schedule.yml"
    path.write_text(
        f"name: s\ntrigger:\n  type: cron\n  expression: '0 * * * *'\ncreate_job: ./{deep.name}\n"
    )

    problems, took = refused(schedule, path)

    assert problems == [f"{deep}:1: yaml: nests deeper than the limit of 64 levels"]
    assert took < 1


# --- files that are not there, or not files ------------------------------------------------------------------


@pytest.mark.parametrize("load", [load_pipeline, schedule])
def test_a_missing_file_is_one_problem_naming_it(load, tmp_path):
    problems, _ = refused(load, tmp_path / "nope.yml")

    assert problems == [f"{tmp_path / 'nope.yml'}: no such file"]


@pytest.mark.parametrize("load", [load_pipeline, schedule])
def test_a_folder_is_refused_as_not_a_yaml_file(load, tmp_path):
    problems, _ = refused(load, tmp_path)

    assert problems == [f"{tmp_path}: is a directory, not a YAML file"]


def test_a_path_through_a_file_is_refused_with_the_reason_the_system_gives(tmp_path):
    (tmp_path / "file").write_text("")

    problems, _ = refused(load_pipeline, tmp_path / "file" / "pipeline.yml")

    assert problems == [f"{tmp_path / 'file' / 'pipeline.yml'}: cannot be read: Not a directory"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "1: (root): empty file: expected a mapping of job fields (type, jobs or command)"),
        ("- type: pipeline\n", "1: (root): expected a mapping of job fields (type, jobs or command)"),
        ("pipeline\n", "1: (root): expected a mapping of job fields (type, jobs or command)"),
        (f"type: pipeline\nepochs: {'9' * 5000}\n", "2: yaml: invalid YAML: Exceeds the limit (4300 digits)"),
        ("type: pipeline\nstarted: 2026-13-01\n", "2: yaml: invalid YAML: month must be in 1..12"),
    ],
    ids=["empty", "a list", "a word", "an integer of 5000 digits", "no such date"],
)
def test_a_file_that_is_no_pipeline_is_one_problem_on_its_line(text, problem, tmp_path):
    path = tmp_path / "pipeline.yml"
    path.write_text(text)

    problems, _ = refused(load_pipeline, path)

    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:{problem}")


def test_a_problem_with_the_whole_file_reads_as_file_and_message():
    assert str(SpecProblem("p.yml", 0, "", "no such file")) == "p.yml: no such file"
    assert str(SpecProblem("p.yml", 2, "", "binary content")) == "p.yml:2: binary content"


# --- what real files need ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    sorted(EXAMPLES.glob("*/pipeline.yml")),
    ids=lambda p: p.parent.name,
)
def test_every_example_pipeline_loads_well_within_the_limits(path):
    budget = yamlfile.Budget()

    load_pipeline(path, budget)

    assert yamlfile.MAX_LOAD_BYTES - budget.bytes < yamlfile.MAX_FILE_BYTES / 100
    assert yamlfile.MAX_NODES - budget.nodes < yamlfile.MAX_NODES / 100


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("schedules/*.yml")), ids=lambda p: p.name)
def test_every_example_schedule_loads(path):
    assert load_schedule(path, NOW).name
