"""A missing or malformed setting stops Runboard at start with a message naming the variable."""

from __future__ import annotations

import json
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
        ("RUNBOARD_DATABASE_TIMEOUT", "soon"),
        ("RUNBOARD_DATABASE_LOSS_LIMIT", "90"),  # past the minute after which a silent step is Failed
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


PRINT_OPTIONS = "import json; from django.conf import settings; print(json.dumps(settings.DATABASES['default']['OPTIONS']))"


def test_postgresql_connections_carry_a_connect_timeout_keepalives_and_a_user_timeout():
    result = subprocess.run(
        [sys.executable, "-c", PRINT_OPTIONS],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DATABASE_URL": "postgres://runboard@db.example.com:5432/runboard",
            "RUNBOARD_DATABASE_TIMEOUT": "3",
            "RUNBOARD_WEB_PROCESS": "1",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    options = json.loads(result.stdout)
    assert options["connect_timeout"] == 3 and options["tcp_user_timeout"] == 6000
    assert options["keepalives"] == 1 and options["keepalives_idle"] == 3
    assert options["keepalives_interval"] * options["keepalives_count"] <= 3
    assert options["options"] == "-c statement_timeout=10000"  # the web process's deadline is kept
