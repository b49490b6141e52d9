"""deploy/'s systemd units start what exists: each ExecStart/ExecStartPre names a program in the venv or on PATH,
and the manage.py command, the Celery app, its queues and options, or gunicorn's WSGI module and options it
passes are ones this checkout has. Paths under the units' WorkingDirectory (/opt/runboard) are this checkout."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import shlex
import shutil
from pathlib import Path

import click
import pytest
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_cli
from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.utils.module_loading import import_string
from gunicorn.config import Config as GunicornConfig
from gunicorn.glogging import Logger as GunicornLogger

from dashboard.celery import app as celery_app
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))
INSTALL_DIR = "/opt/runboard"
ENV_FILE = "/etc/runboard/runboard.env"
COMMAND_KEYS = ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop")


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values]}}: a key may repeat (ExecStartPre, Environment); a line ending in \\ goes on."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    pending = ""
    for raw in path.read_text().splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        pending = ""
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} is outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r} is not key=value"
        current.setdefault(key.strip(), []).append(value.strip())
    assert not pending, f"{path.name} ends with a continued line"
    return sections


def argv_of(command: str) -> list[str]:
    """A unit's command as the program gets it: systemd's prefixes dropped, %% made %."""
    command = command.lstrip("-@:+!")
    return [word.replace("%%", "%") for word in shlex.split(command)]


def local_path(program: str) -> Path | None:
    """Where a program under the install folder is in this checkout, or None for one elsewhere."""
    if program == INSTALL_DIR or program.startswith(INSTALL_DIR + "/"):
        return ROOT / program.removeprefix(INSTALL_DIR).lstrip("/")
    return None


@pytest.fixture(params=UNITS, ids=[path.name for path in UNITS])
def unit(request) -> tuple[str, dict[str, dict[str, list[str]]]]:
    return request.param.name, parse_unit(request.param)


def commands(unit) -> list[list[str]]:
    name, sections = unit
    service = sections["Service"]
    found = [argv_of(value) for key in COMMAND_KEYS for value in service.get(key, [])]
    assert found, f"{name} runs nothing"
    return found


def test_there_is_a_unit_for_the_web_both_kinds_of_worker_and_beat():
    assert {path.name for path in UNITS} == {
        "runboard-web.service",
        "runboard-worker.service",
        "runboard-steps.service",
        "runboard-beat.service",
    }


def test_each_unit_reads_the_environment_file_and_restarts_on_failure(unit):
    name, sections = unit
    service = sections["Service"]

    assert service["EnvironmentFile"] == [ENV_FILE], name
    assert service["Restart"] == ["on-failure"], name
    assert service["WorkingDirectory"] == [INSTALL_DIR], name
    assert service.get("User") == ["runboard"], name
    assert "multi-user.target" in sections["Install"]["WantedBy"], name


def test_each_program_is_in_the_venv_or_on_the_path(unit):
    for argv in commands(unit):
        program = argv[0]
        assert program.startswith("/"), f"{unit[0]}: systemd needs an absolute path, not {program!r}"
        local = local_path(program)
        if local is not None:
            assert local.exists() and os.access(local, os.X_OK), (
                f"{unit[0]}: {program} is not in this checkout"
            )
        else:
            assert shutil.which(Path(program).name), f"{unit[0]}: {program} is not on PATH"


def test_the_web_unit_migrates_before_it_starts():
    service = parse_unit(DEPLOY / "runboard-web.service")["Service"]

    assert [argv_of(c)[1:] for c in service["ExecStartPre"]] == [["manage.py", "migrate", "--noinput"]]


def test_manage_py_commands_exist_with_their_options(unit):
    for argv in commands(unit):
        if len(argv) < 3 or argv[1] != "manage.py":
            continue
        assert (ROOT / "manage.py").is_file()
        name, options = argv[2], argv[3:]
        apps = get_commands()
        assert name in apps, f"{unit[0]}: manage.py has no command {name!r}"
        parser = load_command_class(apps[name], name).create_parser("manage.py", name)
        with contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                parser.parse_args(options)
            except SystemExit:
                pytest.fail(f"{unit[0]}: manage.py {name} refuses {options}: {err.getvalue()}")


def routed_queues() -> set[str]:
    """Every queue the code sends tasks to: the default one and those of the task routes."""
    routes = settings.CELERY_TASK_ROUTES.values()
    return {settings.CELERY_TASK_DEFAULT_QUEUE} | {route["queue"] for route in routes}


def celery_invocations():
    """(unit, subcommand, its parsed options) for every Celery command of every unit."""
    for path in UNITS:
        for argv in commands((path.name, parse_unit(path))):
            if argv[1:3] != ["-m", "celery"]:
                continue
            args = argv[3:]
            at = next(i for i, word in enumerate(args) if word in celery_cli.commands)
            top = click.Context(celery_cli, info_name="celery")
            celery_cli.parse_args(top, args[: at + 1])
            top.obj = CLIContext(app=celery_app, no_color=True, workdir=None, quiet=True)
            command = celery_cli.commands[args[at]]
            try:
                sub = command.make_context(args[at], args[at + 1 :], parent=top)
            except click.UsageError as exc:
                pytest.fail(f"{path.name}: celery {args[at]} refuses its options: {exc}")
            yield path.name, top.params, args[at], sub.params


def test_celery_commands_name_the_app_and_real_queues():
    seen_queues: set[str] = set()
    kinds = []
    for name, top, subcommand, params in celery_invocations():
        module = importlib.import_module(top["app"])
        assert getattr(module, "celery_app", None) is celery_app, (
            f"{name}: -A {top['app']} is not Runboard's app"
        )
        kinds.append(subcommand)
        if subcommand == "worker":
            queues = set(params["queues"])
            assert queues <= routed_queues(), f"{name}: no task is ever sent to {queues - routed_queues()}"
            seen_queues |= queues
            assert params["hostname"] and "%" not in params["hostname"], name
    assert sorted(kinds) == ["beat", "worker", "worker"]
    assert seen_queues == routed_queues(), "a queue the code sends tasks to has no worker"


def test_the_workers_consume_the_queues_manage_py_serve_starts_them_on():
    queues = {name: set(params["queues"]) for name, _, sub, params in celery_invocations() if sub == "worker"}

    assert queues == {"runboard-worker.service": {"runboard"}, "runboard-steps.service": {"steps"}}


def test_gunicorn_serves_runboards_wsgi_application_with_options_it_knows():
    service = parse_unit(DEPLOY / "runboard-web.service")["Service"]
    [argv] = [argv_of(c) for c in service["ExecStart"]]
    assert argv[1:3] == ["-m", "gunicorn"]

    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            options = GunicornConfig().parser().parse_args(argv[3:])
        except SystemExit:
            pytest.fail(f"gunicorn refuses {argv[3:]}: {err.getvalue()}")
    [target] = options.args
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)

    assert callable(getattr(module, attribute))
    assert options.bind == ["127.0.0.1:8000"]
    assert issubclass(import_string(options.logger_class), GunicornLogger)


def test_the_example_environment_file_names_the_settings_the_units_need():
    example = (DEPLOY / "runboard.env.example").read_text()
    names = {line.split("=", 1)[0].lstrip("# ") for line in example.splitlines() if "=" in line}

    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "RUNBOARD_PRODUCTION", "ALLOWED_HOSTS"} <= names
    assert {"RUNBOARD_LOCAL_ENGINE_DIR", "RUNBOARD_BACKENDS", "RUNBOARD_LOG_FORMAT"} <= names
    assert {"RUNBOARD_METRICS_TOKEN", "RUNBOARD_READY_MAX_SYNC_LAG", "RUNBOARD_HEALTH_TIMEOUT"} <= names
    assert example.count("postgres://") == 1 and "redis://" in example
