"""/healthz and /readyz: what a load balancer or systemd asks, without logging in."""

from __future__ import annotations

import json
import re
import socket
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from backends import registry
from dashboard.models import BackendState


@pytest.fixture
def anonymous() -> Client:
    return Client()


@pytest.fixture
def fresh_backends(db):
    """Every configured backend synced a moment ago."""
    now = timezone.now()
    for name in registry.names():
        BackendState.objects.update_or_create(name=name, defaults={"last_success_at": now, "healthy": True})


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed once the block ends: nothing listens there


def test_healthz_answers_ok_without_login_or_database(anonymous, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = anonymous.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"]


def test_healthz_answers_where_the_database_cannot_be_reached(anonymous, settings):
    # No db fixture: pytest-django makes any query here an error, which would be a 500.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    assert anonymous.get("/healthz").status_code == 200


def test_healthz_still_refuses_a_nul_in_the_query(anonymous):
    assert anonymous.get("/healthz", {"x": "a\x00b"}).status_code == 400


def test_healthz_rejects_post(anonymous):
    assert anonymous.post("/healthz").status_code == 405


def test_readyz_is_ready_when_database_redis_and_backends_are(anonymous, redis_url, fresh_backends):
    response = anonymous.get("/readyz")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "ok"
    assert body["checks"]["backend local"] == "ok"


def test_readyz_names_a_backend_whose_last_sync_is_too_old(anonymous, redis_url, fresh_backends, settings):
    settings.READY_MAX_SYNC_LAG_SECONDS = 60
    BackendState.objects.filter(name="local").update(last_success_at=timezone.now() - timedelta(minutes=5))

    response = anonymous.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["backend local"]
    assert re.fullmatch(r"last synced 30\d s ago \(limit 60 s\)", body["checks"]["backend local"])
    assert body["checks"]["database"] == body["checks"]["redis"] == "ok"


def test_readyz_says_why_a_failing_backend_is_behind(anonymous, redis_url, fresh_backends, settings):
    settings.READY_MAX_SYNC_LAG_SECONDS = 60
    BackendState.objects.filter(name="local").update(
        last_success_at=timezone.now() - timedelta(minutes=10),
        healthy=False,
        last_error="unavailable: connection refused by ml.azure.example (HTTP 503)",
    )

    check = anonymous.get("/readyz").json()["checks"]["backend local"]

    assert re.fullmatch(
        r"last synced 60\d s ago \(limit 60 s\); last error: unavailable: connection refused .*", check
    )


def test_readyz_counts_a_backend_never_synced_as_not_ready(anonymous, redis_url, db):
    response = anonymous.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["backend local"] == "never synced"


def test_readyz_checks_every_configured_backend(anonymous, redis_url, fresh_backends, configure_backends):
    configure_backends({"local": {"engine": "local"}, "other": {"engine": "local"}})
    BackendState.objects.create(name="gone", last_success_at=timezone.now() - timedelta(days=9))

    body = anonymous.get("/readyz").json()

    assert body["failing"] == ["backend other"]  # a backend no longer configured is not checked
    assert set(body["checks"]) == {"database", "redis", "backend local", "backend other"}


def test_readyz_is_503_quickly_when_redis_does_not_answer(anonymous, fresh_backends, settings, closed_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port}/0"
    started = time.monotonic()

    response = anonymous.get("/readyz")

    assert time.monotonic() - started < settings.HEALTH_CHECK_TIMEOUT_SECONDS + 1
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"]["redis"].startswith("failing: ConnectionError")
    assert body["checks"]["database"] == "ok"


def test_readyz_gives_up_on_a_redis_that_accepts_but_never_answers(anonymous, fresh_backends, settings):
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 1
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections, never replies to a PING
        settings.REDIS_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        started = time.monotonic()

        response = anonymous.get("/readyz")

    assert 1 <= time.monotonic() - started < 3
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("failing: TimeoutError")


def test_readyz_is_503_when_the_database_fails(anonymous, redis_url, fresh_backends, monkeypatch):
    from dashboard import health

    def broken() -> None:
        from django.db import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(health, "check_database", broken)

    response = anonymous.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database"]
    assert body["checks"]["database"] == "failing: OperationalError: connection refused"
    assert "backend local" not in body["checks"]  # not asked of a database that does not answer


PROBES_IN_PRODUCTION = """
import json
from django.test import Client
client = Client(HTTP_HOST="runboard.example.com")
print(json.dumps({path: client.get(path).status_code for path in ("/healthz", "/readyz", "/runs/")}))
"""


def test_in_production_probes_over_plain_http_are_answered_not_redirected(tmp_path):
    from tests.test_security import PRODUCTION, manage

    result = manage("shell", "-c", PROBES_IN_PRODUCTION, **PRODUCTION)

    assert result.returncode == 0, result.stderr
    # A page still goes to HTTPS; the probes answer (a load balancer checks the web server directly). This
    # database has no tables and no Redis listens: /readyz says so instead of redirecting.
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers == {"/healthz": 200, "/readyz": 503, "/runs/": 301}


def test_readyz_is_503_naming_the_mirror_when_its_tables_cannot_be_read(
    anonymous, redis_url, db, monkeypatch
):
    from dashboard import health

    def unmigrated(now):
        from django.db import OperationalError

        raise OperationalError("no such table: dashboard_backendstate")

    monkeypatch.setattr(health, "backend_lags", unmigrated)

    response = anonymous.get("/readyz")

    assert response.status_code == 503
    assert (
        response.json()["checks"]["backend"]
        == "failing: OperationalError: no such table: dashboard_backendstate"
    )
