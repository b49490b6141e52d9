"""A missing or malformed setting stops Runboard at start with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

from tests.conftest import ROOT


def check(**env: str) -> subprocess.CompletedProcess:
    # A folder of its own: what a running Runboard left in var/ (its URL, its database) must not count.
    env.setdefault("RUNBOARD_VAR_DIR", tempfile.mkdtemp(prefix="runboard-check-"))
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://root@localhost/runboard"),
        ("REDIS_URL", "localhost:6379"),
        ("DEBUG", "maybe"),
        ("PORT", "eighty"),
        ("RUNBOARD_BACKENDS", "/nonexistent/backends.yml"),
    ],
)
def test_a_malformed_setting_fails_naming_the_variable(variable, value):
    result = check(**{variable: value})

    assert result.returncode != 0
    assert variable in result.stderr and "Traceback" not in result.stderr.splitlines()[-1]


def test_the_defaults_work_on_a_fresh_machine(tmp_path):
    result = check(RUNBOARD_VAR_DIR=str(tmp_path / "var"))

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "secret_key").exists()


def test_a_backend_with_an_unknown_engine_fails_the_start_naming_it(tmp_path):
    config = tmp_path / "backends.yml"
    config.write_text("azure-prod:\n  engine: backends.nowhere.Engine\n")

    result = check(RUNBOARD_BACKENDS=str(config))

    assert result.returncode != 0
    assert f"RUNBOARD_BACKENDS ({config}): backend 'azure-prod': field 'engine'" in result.stderr
