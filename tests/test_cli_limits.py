"""Hostile and mistaken files on the command line: `validate`, `submit` and `schedule create`, real processes.

Every refusal is one line naming the file and what is wrong with it, and exit status 1; never a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import hostile
from tests.conftest import _database_url
from tests.integration.helpers import EXAMPLES, manage

# Each command runs a fresh Python and Django (about a second); the refusal itself takes milliseconds.
STARTED_AND_REFUSED = 5.0

COMMANDS = {"validate": ("validate",), "submit": ("submit",), "schedule create": ("schedule", "create")}

pytestmark = pytest.mark.django_db(transaction=True)
every_command = pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    # The test database, so that no command reaches the developer's own.
    return {"DATABASE_URL": _database_url(), "RUNBOARD_LOCAL_ENGINE_DIR": str(tmp_path / "engine")}


def refusal(*args: str, env: dict[str, str]) -> tuple[str, float]:
    """The one line a refused command prints, and the seconds the command took."""
    start = time.monotonic()
    result = manage(*args, env=env)
    took = time.monotonic() - start

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0].removeprefix("CommandError: "), took


@every_command
@pytest.mark.parametrize(
    ("write", "where", "problem"),
    [
        (hostile.billion_laughs, ":5", "yaml: alias *d: exceeds the limit of 50,000 values"),
        (hostile.deep, ":1", "yaml: nests deeper than the limit of 64 levels"),
        (hostile.oversized, "", "bytes exceeds the limit of 1 MB per YAML file"),
        (hostile.binary, ":2", "binary content (a NUL byte), not YAML text"),
    ],
    ids=["billion laughs", "20000 deep", "50 MB", "binary"],
)
def test_a_hostile_file_is_refused_in_one_line_naming_it_and_the_limit(
    command: tuple[str, ...], write: Callable[[Path], Path], where: str, problem: str, env, tmp_path
):
    path = write(tmp_path)

    line, took = refusal(*command, str(path), env=env)

    assert line.startswith(f"{path}{where}: ")
    assert problem in line
    assert took < STARTED_AND_REFUSED


@every_command
@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda folder: folder / "nope.yml", "no such file"),
        (lambda folder: folder, "is a directory, not a YAML file"),
        (lambda folder: _written(folder / "empty.yml", ""), "(root): empty file: expected a "),
        (lambda folder: _written(folder / "list.yml", "- a\n- b\n"), "(root): expected a mapping of "),
        (lambda folder: _written(folder / "word.yml", "pipeline\n"), "(root): expected a mapping of "),
        (lambda folder: _written(folder / "bad.yml", "a: [1\n"), "yaml: invalid YAML: "),
    ],
    ids=["missing", "a folder", "empty", "a list", "a word", "not YAML"],
)
def test_a_file_that_is_not_a_pipeline_or_a_schedule_is_one_line_naming_it(
    command: tuple[str, ...], make: Callable[[Path], Path], problem: str, env, tmp_path
):
    path = make(tmp_path)

    line, _ = refusal(*command, str(path), env=env)

    assert line.startswith(f"{path}:")
    assert problem in line


def test_submit_names_the_input_a_set_value_does_not_fit(env):
    path = EXAMPLES / "train-model" / "pipeline.yml"

    typed, _ = refusal("submit", str(path), "--set", "epochs=abc", env=env)
    malformed, _ = refusal("submit", str(path), "--set", "epochs", env=env)

    assert typed == f"{path}: inputs.epochs: 'abc' is not an integer"
    assert malformed == "--set 'epochs': expected NAME=VALUE or inputs.NAME=VALUE, e.g. inputs.epochs=3"


def _written(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
