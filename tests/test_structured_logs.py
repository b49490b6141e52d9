"""RUNBOARD_LOG_FORMAT=json: one JSON object per line, with the request, user, action or run it concerns, and
secrets redacted as in the text format."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest
from django.test import Client

from backends.base import RunStatus
from backends.local import stepexec
from backends.local import tasks as local_tasks
from dashboard import actions
from dashboard import tasks as dashboard_tasks
from dashboard.logs import JsonFormatter, log_context
from dashboard.security import RedactSecretsFilter
from tests import factories
from tests.conftest import ROOT

SECRET = "rbp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg"


@pytest.fixture
def json_lines():
    """What the root logger writes through a handler set up as LOGGING sets up the JSON one."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.mark.django_db
def test_a_request_logs_a_json_line_with_its_id_and_user(json_lines, viewer, viewer_client):
    response = viewer_client.get("/runs/", HTTP_X_REQUEST_ID="lb-7f3a9c")

    [line] = [entry for entry in json_lines() if entry["logger"] == "runboard.requests"]
    assert response["X-Request-ID"] == "lb-7f3a9c"
    assert line["request_id"] == "lb-7f3a9c"
    assert line["user"] == viewer.username
    assert line["level"] == "INFO"
    assert line["message"].startswith("GET /runs/ 200 ")
    assert line["time"].endswith("+00:00")


@pytest.mark.django_db
def test_each_request_gets_an_id_of_its_own_unless_a_sane_one_is_given(json_lines, viewer_client):
    first = viewer_client.get("/runs/")
    second = viewer_client.get("/runs/", HTTP_X_REQUEST_ID="bad id\nwith a newline")

    ids = [entry["request_id"] for entry in json_lines() if entry["logger"] == "runboard.requests"]
    assert ids == [first["X-Request-ID"], second["X-Request-ID"]]
    assert len(set(ids)) == 2 and all(len(i) == 32 for i in ids)


@pytest.mark.django_db
def test_an_anonymous_request_has_no_user_and_the_probes_are_not_logged_at_info(json_lines):
    Client().get("/healthz")
    Client().get("/accounts/login/")

    lines = [entry for entry in json_lines() if entry["logger"] == "runboard.requests"]
    assert [entry["message"].split(" ")[:3] for entry in lines] == [["GET", "/accounts/login/", "200"]]
    assert "user" not in lines[0]


def test_a_token_in_a_message_or_a_traceback_is_redacted_in_json(json_lines):
    log = logging.getLogger("runs.api")
    log.warning("refused %s", f"Authorization: Bearer {SECRET}")
    try:
        raise ValueError(f"bad token {SECRET}")
    except ValueError:
        log.exception("submit failed")

    written = json_lines()
    assert "EfGhIjKl" not in json.dumps(written)
    assert written[0]["message"] == "refused Authorization: [redacted]"
    assert written[1]["message"] == "submit failed"
    assert "ValueError: bad token rbp_AbCd[redacted]" in written[1]["exception"]


def test_log_context_fields_nest_and_end_with_their_block(json_lines):
    log = logging.getLogger("runs.sync")
    with log_context(backend="azure-prod"):
        with log_context(run_id="run_42"):
            log.warning("inner")
        log.warning("outer")
    log.warning("after")

    inner, outer, after = json_lines()
    assert (inner["backend"], inner["run_id"]) == ("azure-prod", "run_42")
    assert outer["backend"] == "azure-prod" and "run_id" not in outer
    assert "backend" not in after


@pytest.mark.django_db
def test_the_action_task_logs_with_the_action_id(json_lines, monkeypatch):
    action = factories.action()
    monkeypatch.setattr(
        actions, "action_perform", lambda pk: logging.getLogger("dashboard.actions").info("work")
    )

    dashboard_tasks.execute_action(action.pk)

    [line] = [entry for entry in json_lines() if entry["message"] == "work"]
    assert line["action_id"] == action.pk


def logging_handler(action) -> str:
    """An action handler that only logs, as a real one does on its way to the backend."""
    logging.getLogger("runs.actions").info("asking the backend")
    return "cancel requested"


@pytest.mark.django_db
def test_an_action_on_a_run_logs_with_the_run_and_its_backend(json_lines, monkeypatch):
    run = factories.run(backend="azure-prod", status=RunStatus.RUNNING)
    action = factories.action(target=run)

    monkeypatch.setitem(actions.HANDLERS, action.kind, f"{__name__}.{logging_handler.__name__}")

    dashboard_tasks.execute_action(action.pk)

    [line] = [entry for entry in json_lines() if entry["message"] == "asking the backend"]
    assert (line["action_id"], line["run_id"], line["backend"]) == (action.pk, run.external_id, "azure-prod")


@pytest.mark.django_db
def test_the_step_task_logs_with_the_run_id(json_lines, monkeypatch, tmp_path, engine_dir):
    step, _ = factories.preparing_step(tmp_path / "pipeline", "")
    monkeypatch.setattr(stepexec, "execute_step", lambda pk: logging.getLogger("backends.local").info("step"))

    local_tasks.run_step(step.pk)

    [line] = [entry for entry in json_lines() if entry["message"] == "step"]
    assert line["run_id"] == step.run_id


CELERY_LOGS = """
import logging
import django
django.setup()
from celery.utils.log import get_task_logger
from dashboard.celery import app
from dashboard.logs import log_context
app.log.setup(loglevel="INFO", redirect_stdouts=True)  # as a worker starts: its own handlers
with log_context(action_id=7):
    logging.getLogger("runs.sync").warning("backend said: Authorization: Bearer %s")
    get_task_logger("runs.tasks").warning("retrying with bearer %s")
print("printed by a task")  # a worker redirects stdout to its log
"""


def celery_output(log_format: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "RUNBOARD_LOG_FORMAT"}
    result = subprocess.run(
        [sys.executable, "-c", CELERY_LOGS.replace("%s", SECRET)],
        cwd=ROOT,
        env={**environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "RUNBOARD_LOG_FORMAT": log_format},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_celery_logs_one_json_object_per_line_with_secrets_redacted():
    lines = [json.loads(line) for line in celery_output("json").splitlines()]

    assert [(entry["logger"], entry["level"]) for entry in lines] == [
        ("runs.sync", "WARNING"),
        ("runs.tasks", "WARNING"),
        ("celery.redirected", "WARNING"),
    ]
    assert lines[0]["message"] == "backend said: Authorization: [redacted]"
    assert lines[1]["message"] == "retrying with bearer [redacted]"
    assert lines[0]["action_id"] == lines[1]["action_id"] == 7
    assert lines[2]["message"] == "printed by a task"


def test_celery_logs_stay_text_by_default():
    output = celery_output("")

    assert "backend said: Authorization: [redacted]" in output
    assert "EfGhIjKl" not in output
    assert not output.lstrip().startswith("{")


def test_an_unknown_log_format_fails_at_start():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "RUNBOARD_LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "RUNBOARD_LOG_FORMAT='xml' is not one of text, json" in result.stderr


def test_gunicorns_own_lines_are_json_too_with_secrets_redacted(tmp_path, monkeypatch):
    from gunicorn.config import Config

    from dashboard.gunicorn_logs import GunicornLogger

    monkeypatch.setenv("RUNBOARD_LOG_FORMAT", "json")
    config = Config()
    config.set("errorlog", str(tmp_path / "gunicorn.log"))
    logger = GunicornLogger(config)
    logger.info("Booting worker with pid: %s", 4242)
    logger.error("worker timeout on a request with Authorization: Bearer %s", SECRET)
    for handler in logger.error_log.handlers:
        handler.flush()

    booting, timeout = [json.loads(line) for line in (tmp_path / "gunicorn.log").read_text().splitlines()]
    assert (booting["logger"], booting["message"]) == ("gunicorn.error", "Booting worker with pid: 4242")
    assert timeout["message"] == "worker timeout on a request with Authorization: [redacted]"
    assert timeout["level"] == "ERROR"
