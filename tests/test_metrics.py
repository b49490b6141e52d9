"""/metrics: who may scrape it, and values that match the rows the mirror and the audit trail hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from backends.base import FireStatus, RunStatus
from dashboard import metrics
from dashboard.models import Action, BackendState
from runs.sync import sync_backend
from tests import factories

pytestmark = pytest.mark.django_db
TOKEN = "scrape-7Hc2kQ9x"


@pytest.fixture(autouse=True)
def fresh_counts(settings):
    """Each test sees its own rows: nothing cached from another test's scrape."""
    settings.METRICS_TOKEN = ""
    settings.METRICS_CACHE_SECONDS = 60
    metrics.clear_cache()
    yield
    metrics.clear_cache()


def scrape(client: Client | None = None, **headers) -> dict[tuple[str, frozenset], float]:
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


# --- who may scrape ----------------------------------------------------------------------------


def test_without_a_token_a_client_on_this_machine_may_scrape():
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200


@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.0.7", "2001:db8::5", "not-an-address"])
def test_without_a_token_a_client_elsewhere_is_refused(address):
    response = Client().get("/metrics", REMOTE_ADDR=address)

    assert response.status_code == 403
    assert b"runboard_" not in response.content


def test_behind_a_proxy_the_forwarded_client_decides(settings):
    settings.RUNBOARD_BEHIND_PROXY = True

    elsewhere = Client().get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    local = Client().get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")

    assert elsewhere.status_code == 403
    assert local.status_code == 200


def test_with_a_token_only_the_bearer_of_it_may_scrape(settings):
    settings.METRICS_TOKEN = TOKEN

    assert (
        Client().get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code
        == 200
    )
    assert (
        Client().get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=f"bearer {TOKEN}").status_code
        == 200
    )
    for header in ("", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer "):
        response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION=header)
        assert response.status_code == 403, header


def test_metrics_need_no_login_and_no_session():
    anonymous = Client()

    assert anonymous.get("/metrics").status_code == 200
    assert "sessionid" not in anonymous.cookies


# --- values ------------------------------------------------------------------------------------


def test_runs_are_counted_by_backend_and_status():
    for _ in range(3):
        factories.run(status=RunStatus.RUNNING)
    factories.run(status=RunStatus.QUEUED)
    for _ in range(2):
        factories.run(status=RunStatus.COMPLETED)
    factories.run(status=RunStatus.FAILED)
    factories.run(backend="azure-prod", status=RunStatus.FAILED)

    samples = scrape()

    assert value(samples, "runboard_runs", backend="local", status="Running") == 3
    assert value(samples, "runboard_runs", backend="local", status="Queued") == 1
    assert value(samples, "runboard_runs", backend="local", status="Completed") == 2
    assert value(samples, "runboard_runs", backend="local", status="Failed") == 1
    assert value(samples, "runboard_runs", backend="azure-prod", status="Failed") == 1
    assert value(samples, "runboard_runs", backend="local", status="Canceled") is None


def test_finished_runs_are_recounted_only_when_the_cache_expires(settings):
    factories.run(status=RunStatus.COMPLETED)
    scrape()
    factories.run(status=RunStatus.COMPLETED)
    factories.run(status=RunStatus.RUNNING)

    cached = scrape()
    settings.METRICS_CACHE_SECONDS = 0
    recounted = scrape()

    assert value(cached, "runboard_runs", backend="local", status="Completed") == 1
    assert value(cached, "runboard_runs", backend="local", status="Running") == 1  # under way: always fresh
    assert value(recounted, "runboard_runs", backend="local", status="Completed") == 2


def test_steps_under_way_are_counted_by_status():
    factories.run(
        status=RunStatus.RUNNING,
        steps=[
            {"node_id": "a", "status": RunStatus.COMPLETED},
            {"node_id": "b", "status": RunStatus.RUNNING},
            {"node_id": "c", "status": RunStatus.RUNNING},
            {"node_id": "d", "status": RunStatus.QUEUED},
        ],
    )
    factories.run(
        backend="azure-prod", status=RunStatus.RUNNING, steps=[{"node_id": "a", "status": RunStatus.RUNNING}]
    )
    factories.run(status=RunStatus.COMPLETED, steps=["a", "b"])

    samples = scrape()

    assert value(samples, "runboard_steps_active", status="Running") == 3
    assert value(samples, "runboard_steps_active", status="Queued") == 1
    assert value(samples, "runboard_steps_active", status="Completed") is None


def test_the_action_queue_and_outcomes_match_the_audit_trail():
    factories.action()
    factories.action()
    factories.action(status=Action.Status.RUNNING)
    for _ in range(3):
        factories.action(status=Action.Status.SUCCEEDED)
    factories.action(status=Action.Status.FAILED, error="refused")

    samples = scrape()

    assert value(samples, "runboard_action_queue_depth") == 2
    assert value(samples, "runboard_actions", status="pending") == 2
    assert value(samples, "runboard_actions", status="running") == 1
    assert value(samples, "runboard_actions", status="succeeded") == 3
    assert value(samples, "runboard_actions", status="failed") == 1


def test_schedule_fires_and_skips_are_counted_by_status():
    schedule = factories.schedule()
    start = timezone.now().replace(microsecond=0) - timedelta(hours=10)
    statuses = [FireStatus.FIRED] * 3 + [FireStatus.SKIPPED] * 2 + [FireStatus.FAILED]
    for hour, status in enumerate(statuses):
        factories.fire(schedule, fire_time=start + timedelta(hours=hour), status=status)

    samples = scrape()

    assert value(samples, "runboard_schedule_fires_total", status="Fired") == 3
    assert value(samples, "runboard_schedule_fires_total", status="Skipped") == 2
    assert value(samples, "runboard_schedule_fires_total", status="Failed") == 1


def test_sync_passes_their_duration_failures_and_lag_per_backend(redis_url, engine_dir, configure_backends):
    configure_backends({"local": {"engine": "local"}, "down": {"engine": "tests.fakes.UnreachableBackend"}})
    sync_backend("local")
    sync_backend("local", now=True)
    sync_backend("down")
    sync_backend("down")  # waits out its backoff: not a pass
    BackendState.objects.filter(name="local").update(last_success_at=timezone.now() - timedelta(seconds=90))

    samples = scrape()

    local, down = BackendState.objects.get(name="local"), BackendState.objects.get(name="down")
    assert (local.sync_passes, local.sync_failures, down.sync_passes, down.sync_failures) == (2, 0, 1, 1)
    assert value(samples, "runboard_sync_duration_seconds_count", backend="local") == 2
    assert value(samples, "runboard_sync_duration_seconds_sum", backend="local") == pytest.approx(
        local.sync_seconds_total
    )
    assert local.sync_seconds_total > 0
    assert value(samples, "runboard_sync_failures_total", backend="local") == 0
    assert value(samples, "runboard_sync_duration_seconds_count", backend="down") == 1
    assert value(samples, "runboard_sync_failures_total", backend="down") == 1
    assert value(samples, "runboard_sync_last_duration_seconds", backend="down") == pytest.approx(
        down.last_sync_seconds
    )
    assert 90 <= value(samples, "runboard_sync_lag_seconds", backend="local") < 100
    assert value(samples, "runboard_sync_lag_seconds", backend="down") is None  # never synced
    assert value(samples, "runboard_backend_healthy", backend="local") == 1
    assert value(samples, "runboard_backend_healthy", backend="down") == 0


def test_request_latency_is_recorded_by_view_method_and_status_class(viewer_client):
    def count(samples: dict, view: str, status: str) -> float:
        return (
            value(samples, "runboard_request_duration_seconds_count", view=view, method="GET", status=status)
            or 0
        )

    before = scrape()
    viewer_client.get("/runs/")
    viewer_client.get("/runs/")
    viewer_client.get("/no/such/page/")
    after = scrape()

    assert count(after, "runs:list", "2xx") - count(before, "runs:list", "2xx") == 2
    assert count(after, "unresolved", "4xx") - count(before, "unresolved", "4xx") == 1
    assert count(after, "metrics", "2xx") - count(before, "metrics", "2xx") == 1  # the first scrape


def test_a_scrape_costs_a_fixed_number_of_queries(django_assert_max_num_queries, settings):
    settings.METRICS_CACHE_SECONDS = 0
    for status in (RunStatus.RUNNING, RunStatus.COMPLETED, RunStatus.FAILED):
        factories.run(status=status, steps=[{"node_id": "a", "status": RunStatus.RUNNING}])
    scrape()
    for _ in range(20):
        factories.run(status=RunStatus.COMPLETED, steps=["a", "b"])

    with django_assert_max_num_queries(7):
        scrape()
