# ruff: noqa: F811
"""No log request can run long: every offset, line and window is clamped to the log, every loop is bounded by
the bytes it reads and by the request's deadline."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings
from django.urls import reverse

from dashboard import deadline
from runs.lineindex import StepLog
from runs.logsearch import find_next, find_previous

# The log pages' fixtures, used here by name (ruff reads them as unused, then redefined).
from tests.test_logs import BytesBackend, engine_step, index_dir, numbered_log  # noqa: F401

pytestmark = pytest.mark.django_db
HUGE = ("99999999999999999999999", "9223372036854775807", "1000000000000")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def logged_in(client, viewer):
    client.force_login(viewer)
    return client


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_searching_backwards_from_past_the_end_starts_at_the_end():
    backend = BytesBackend(b"zzz needle zzz\n" * 1000)
    log = StepLog(backend, "r", "s", "stdout")

    found = find_previous(log, "needle", case_sensitive=True, before=10**22)

    assert (
        found == 15 * 999 + 4 and len(backend.reads) < 10
    )  # the last match, after a few reads, not 10^22 / piece
    assert find_next(log, "needle", case_sensitive=True, start=10**22) == -1


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize(
    "params",
    [
        {"q": "zzz", "find": "prev", "from": "{v}"},
        {"q": "zzz", "find": "next", "from": "{v}"},
        {"before": "{v}"},
        {"after": "{v}"},
        {"at": "{v}"},
        {"line": "{v}"},
        {"offset": "{v}", "htmx": True},
        {"before": "{v}", "htmx": True},
        {"after": "{v}", "htmx": True},
    ],
)
def test_absurd_offsets_and_lines_on_the_log_page_answer_at_once(logged_in, engine_step, params, value):
    engine_step.write(numbered_log(2000))
    query = {k: str(v).format(v=value) for k, v in params.items() if k != "htmx"}
    headers = HTMX if params.get("htmx") else {}

    response, seconds = timed(lambda: logged_in.get(engine_step.url, query, **headers))

    assert seconds < 1
    if int(value) > 2**63 - 1:
        assert response.status_code == 400 and "to 9,223,372,036,854,775,807" in response.content.decode()
    else:
        assert response.status_code in (200, 286, 302)


@pytest.mark.parametrize("value", ["-1", "1.5", "²", "١٢", "0x10", " ", "1e9", "9" * 40])
def test_a_malformed_number_is_a_400_naming_the_parameter(logged_in, engine_step, value):
    engine_step.write(b"one\n")

    for key in ("before", "after", "at", "from", "offset", "line"):
        response = logged_in.get(engine_step.url, {key: value})
        assert response.status_code == (200 if value == " " else 400), (key, value)
        if value != " ":
            assert key in response.content.decode()


@pytest.mark.parametrize("offset", HUGE)
def test_a_line_link_and_a_download_past_the_end_answer_at_once(logged_in, engine_step, offset):
    engine_step.write(numbered_log(2000))
    run, step = engine_step.run, "write"
    url = reverse("runs:step_log_line", args=[run.pk, step, "stdout", 0]).replace("/at/0/", f"/at/{offset}/")

    line, seconds = timed(lambda: logged_in.get(url))
    download, _ = timed(
        lambda: logged_in.get(reverse("runs:step_log_download", args=[run.pk, step, "stdout"]))
    )

    assert seconds < 1 and line.status_code in (200, 404)
    assert download.status_code == 200


def test_a_request_past_its_deadline_is_stopped_with_a_503(logged_in, engine_step):
    engine_step.write(numbered_log(50_000))

    with override_settings(REQUEST_DEADLINE_SECONDS=0):  # past it at the first look
        response = logged_in.get(engine_step.url, {"q": "absent"})
        fragment = logged_in.get(engine_step.url, {"after": "0"}, **HTMX)

    assert response.status_code == 503 and "took longer than 0 s" in response.content.decode()
    assert fragment.status_code == 503 and fragment.content.decode().startswith("This took longer than 0 s")


def test_outside_a_request_nothing_has_a_deadline():
    deadline.check()  # a worker's or a command's loops are bounded by their own limits, not a request's


def test_a_query_past_the_deadline_is_stopped_by_the_database():
    from django.db import OperationalError, connection, transaction

    started = time.monotonic()
    if connection.vendor == "sqlite":  # a progress handler interrupts it
        count = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000000) SELECT count(*) FROM n"
        with (
            deadline.within(0.05),
            pytest.raises(OperationalError, match="interrupted"),
            connection.cursor() as c,
        ):
            c.execute(count)
    else:  # the web server's connections carry the deadline as statement_timeout (next test), here set by hand
        with connection.cursor() as c, pytest.raises(OperationalError, match="statement timeout"):
            with transaction.atomic():  # a savepoint: the test's own transaction outlives the cancel
                c.execute("SET LOCAL statement_timeout = 50")
                c.execute("SELECT pg_sleep(5)")
    assert time.monotonic() - started < 1


def test_the_web_servers_postgresql_connections_stop_a_query_at_the_deadline(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "DATABASE_URL": "postgres://u@127.0.0.1:5432/x", "RUNBOARD_WEB_PROCESS": "1"}
    code = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS']['options'])"
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "RUNBOARD_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "-c statement_timeout=10000"
