"""The overview (/): active runs by backend and status, failures with their failing step, stuck runs, schedules,
backends and actions. Every number links to a list, and that list shows as many rows as the number says."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backends.base import FireStatus, RunStatus
from dashboard import overview, overview_runs
from dashboard.models import Action, BackendState
from tests import factories

pytestmark = pytest.mark.django_db
HOME = "/"


@pytest.fixture(autouse=True)
def _forget_usual_times():
    # Pipelines' usual times are cached between requests; each test starts without them.
    cache.delete(overview_runs.USUAL_CACHE_KEY)
    yield
    cache.delete(overview_runs.USUAL_CACHE_KEY)


def ago(**span) -> timezone.datetime:
    return timezone.now() - timedelta(**span)


def href(page: str, element_id: str) -> str:
    """The link of the element with this id (an <a id=...> or the first link inside the element)."""
    found = re.search(rf'<a [^>]*id="{element_id}"[^>]*href="([^"]*)"', page) or re.search(
        rf'<a [^>]*href="([^"]*)"[^>]*id="{element_id}"', page
    )
    if not found:
        inside = re.search(rf'id="{element_id}".*?<a [^>]*href="([^"]*)"', page, re.S)
        assert inside, f"no link at #{element_id}"
        return html.unescape(inside[1])
    return html.unescape(found[1])


def runs_listed(client, url: str) -> list[str]:
    """The external ids of the runs the runs list shows at ``url`` (every one of them: on one page)."""
    response = client.get(url)
    assert response.status_code == 200, url
    assert response.context["query"].valid, response.context["query"].errors
    assert not response.context["page"].next_cursor, "more than a page: the test's data should fit on one"
    return sorted(r.external_id for r in response.context["runs"])


def number(page: str, element_id: str) -> int:
    found = re.search(rf'id="{element_id}"[^>]*>(?:<span class="overview-n">)?(\d+)', page)
    assert found, f"no number at #{element_id}"
    return int(found[1])


# --- active runs ----------------------------------------------------------------------------------------


def test_it_counts_active_runs_by_backend_and_status_and_each_count_lists_those_runs(viewer_client):
    for status, backend in [
        (RunStatus.RUNNING, "local"),
        (RunStatus.RUNNING, "local"),
        (RunStatus.QUEUED, "local"),
        (RunStatus.RUNNING, "azure-prod"),
        (RunStatus.NOT_RESPONDING, "azure-prod"),
        (RunStatus.CANCEL_REQUESTED, "azure-prod"),
    ]:
        factories.run(backend=backend, status=status)
    for status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED):
        factories.run(status=status)

    response = viewer_client.get(HOME)

    assert response.status_code == 200
    active = response.context["o"].active
    assert active.total == 6
    assert active.statuses == [
        RunStatus.QUEUED,
        RunStatus.RUNNING,
        RunStatus.CANCEL_REQUESTED,
        RunStatus.NOT_RESPONDING,
    ]
    table = {row.backend: {c.status: c.count for c in row.cells} for row in active.rows}
    assert table == {
        "azure-prod": {"Queued": 0, "Running": 1, "CancelRequested": 1, "NotResponding": 1},
        "local": {"Queued": 1, "Running": 2, "CancelRequested": 0, "NotResponding": 0},
    }
    page = response.content.decode()
    links = [(c.count, c.url) for row in active.rows for c in row.cells]
    links += [(row.total, row.url) for row in active.rows]
    links += [(c.count, c.url) for c in active.column_totals] + [(active.total, active.url)]
    for count, url in links:
        assert f'href="{html.escape(url)}"' in page
        assert len(runs_listed(viewer_client, url)) == count, url
    assert number(page, "tile-active") == 6
    assert len(runs_listed(viewer_client, href(page, "tile-active"))) == 6


def test_with_nothing_active_it_says_so_calmly(viewer_client):
    factories.run(status=RunStatus.COMPLETED)

    page = viewer_client.get(HOME).content.decode()

    assert "No run is active." in page
    assert "No active run is overdue." in page
    assert "No run submitted in the last 24 hours failed." in page
    assert number(page, "tile-active") == 0


# --- failures -------------------------------------------------------------------------------------------


def test_it_lists_the_last_days_failures_with_their_failing_step_and_links_to_them(viewer_client):
    failed = factories.run(
        external_id="broken_train",
        status=RunStatus.FAILED,
        created_at=ago(hours=2),
        steps=[
            "prep",
            {"node_id": "train", "status": RunStatus.FAILED, "exit_code": 3, "error": "CUDA out of memory"},
            {"node_id": "evaluate", "status": RunStatus.CANCELED},
        ],
    )
    factories.run(
        external_id="failed_before_steps",
        status=RunStatus.FAILED,
        created_at=ago(hours=23),
        error="Image pull failed",
    )
    factories.run(external_id="yesterday", status=RunStatus.FAILED, created_at=ago(hours=25))
    factories.run(external_id="fine", status=RunStatus.COMPLETED, created_at=ago(hours=1))

    response = viewer_client.get(HOME)

    page = response.content.decode()
    shown = response.context["o"].failures
    assert shown.count == 2
    assert [r.external_id for r in shown.runs] == ["broken_train", "failed_before_steps"]
    assert shown.runs[0].failing_step.node_id == "train"
    step_log = reverse("runs:step_log", args=[failed.pk, "train", "stdout"])
    assert f'<a href="{step_log}">train</a> <span class="sub">exit 3</span>' in page
    assert "CUDA out of memory" in page
    assert "no step failed" in page and "Image pull failed" in page
    assert number(page, "tile-failed") == 2
    assert runs_listed(viewer_client, href(page, "tile-failed")) == ["broken_train", "failed_before_steps"]
    assert runs_listed(viewer_client, href(page, "failures-title")) == ["broken_train", "failed_before_steps"]


def test_only_the_newest_failures_are_listed_and_the_count_says_how_many_there_are(viewer_client):
    for i in range(overview_runs.FAILURES_SHOWN + 3):
        factories.run(external_id=f"f{i:02d}", status=RunStatus.FAILED, created_at=ago(minutes=10 + i))

    response = viewer_client.get(HOME)

    assert response.context["o"].failures.count == overview_runs.FAILURES_SHOWN + 3
    assert len(response.context["o"].failures.runs) == overview_runs.FAILURES_SHOWN
    assert response.context["o"].failures.runs[0].external_id == "f00"
    page = response.content.decode()
    assert f"All {overview_runs.FAILURES_SHOWN + 3} failed runs" in page
    assert len(runs_listed(viewer_client, href(page, "tile-failed"))) == overview_runs.FAILURES_SHOWN + 3


# --- stuck runs -----------------------------------------------------------------------------------------


def completed(pipeline, *, minutes: float, hours_ago: float, count: int = 1) -> None:
    """``count`` completed runs of ``pipeline`` that took ``minutes`` from submission to end."""
    for _ in range(count):
        created = ago(hours=hours_ago)
        factories.run(
            backend=pipeline.backend,
            pipeline=pipeline,
            status=RunStatus.COMPLETED,
            created_at=created,
            started_at=created,
            finished_at=created + timedelta(minutes=minutes),
        )


def test_runs_far_beyond_their_pipelines_usual_time_are_stuck_and_each_count_lists_them(viewer_client):
    train = factories.pipeline(name="train")
    completed(train, minutes=20, hours_ago=30, count=5)  # usual: 20 min; overdue after 60 min
    for external_id, status, minutes in [
        ("train_running_2h", RunStatus.RUNNING, 120),
        ("train_queued_90m", RunStatus.QUEUED, 90),
        ("train_preparing_70m", RunStatus.PREPARING, 70),
        ("train_running_40m", RunStatus.RUNNING, 40),
        ("train_queued_5m", RunStatus.QUEUED, 5),
    ]:
        factories.run(external_id=external_id, pipeline=train, status=status, created_at=ago(minutes=minutes))
    factories.run(external_id="train_dead", pipeline=train, status=RunStatus.NOT_RESPONDING)
    fresh = factories.pipeline(name="fresh")  # nothing completed yet: overdue after 6 hours
    factories.run(external_id="fresh_7h", pipeline=fresh, status=RunStatus.RUNNING, created_at=ago(hours=7))
    factories.run(external_id="fresh_5h", pipeline=fresh, status=RunStatus.RUNNING, created_at=ago(hours=5))
    slow = factories.pipeline(name="slow")  # usual: 5 hours
    completed(slow, minutes=300, hours_ago=48, count=3)
    factories.run(external_id="slow_6h", pipeline=slow, status=RunStatus.RUNNING, created_at=ago(hours=6))
    factories.run(external_id="no_pipeline", status=RunStatus.RUNNING, created_at=ago(days=10))

    response = viewer_client.get(HOME)

    stuck = {p.pipeline.name: p for p in response.context["o"].overdue.pipelines}
    assert sorted(stuck) == ["fresh", "train"]
    assert stuck["train"].count == 3
    assert stuck["train"].usual == timedelta(minutes=20)
    assert stuck["train"].after == timedelta(hours=1)
    assert stuck["fresh"].count == 1 and stuck["fresh"].usual is None
    assert stuck["fresh"].after == overview_runs.OVERDUE_WITHOUT_HISTORY
    page = response.content.decode()
    assert runs_listed(viewer_client, href(page, f"overdue-count-{train.pk}")) == [
        "train_preparing_70m",
        "train_queued_90m",
        "train_running_2h",
    ]
    assert runs_listed(viewer_client, href(page, f"overdue-count-{fresh.pk}")) == ["fresh_7h"]
    assert number(page, "tile-not-responding") == 1
    assert runs_listed(viewer_client, href(page, "tile-not-responding")) == ["train_dead"]


def test_a_stuck_pipelines_names_are_escaped(viewer_client):
    hostile = factories.pipeline(name="<script>alert(1)</script>", backend="<b>prod</b>")
    factories.run(backend="<b>prod</b>", pipeline=hostile, status=RunStatus.RUNNING, created_at=ago(hours=7))

    page = viewer_client.get(HOME).content.decode()

    assert "<script>alert(1)" not in page and "<b>prod</b>" not in page
    assert (
        '&lt;script&gt;alert(1)&lt;/script&gt;</a> <span class="sub">&lt;b&gt;prod&lt;/b&gt;</span>' in page
    )


def test_a_short_pipeline_is_stuck_only_after_the_minimum_wait(viewer_client):
    quick = factories.pipeline(name="quick")
    completed(quick, minutes=1, hours_ago=5, count=3)  # 3 x 1 min is less than the 30 minutes' minimum
    factories.run(
        external_id="quick_20m", pipeline=quick, status=RunStatus.RUNNING, created_at=ago(minutes=20)
    )
    factories.run(
        external_id="quick_45m", pipeline=quick, status=RunStatus.RUNNING, created_at=ago(minutes=45)
    )

    response = viewer_client.get(HOME)

    [stuck] = response.context["o"].overdue.pipelines
    assert stuck.after == overview_runs.OVERDUE_AT_LEAST
    assert runs_listed(viewer_client, stuck.url) == ["quick_45m"]


def test_the_usual_time_is_the_median_of_the_last_completed_runs_only(viewer_client):
    etl = factories.pipeline(name="etl")
    completed(etl, minutes=600, hours_ago=24 * 30, count=overview_runs.USUAL_WINDOW + 10)  # long ago, slow
    completed(etl, minutes=10, hours_ago=24, count=overview_runs.USUAL_WINDOW)  # lately, quick
    factories.run(external_id="etl_2h", pipeline=etl, status=RunStatus.RUNNING, created_at=ago(hours=2))

    response = viewer_client.get(HOME)

    [stuck] = response.context["o"].overdue.pipelines
    assert stuck.usual == timedelta(minutes=10)
    assert runs_listed(viewer_client, stuck.url) == ["etl_2h"]


def test_usual_times_are_kept_between_requests_and_read_again_when_they_expire(viewer_client):
    etl = factories.pipeline(name="etl")
    completed(etl, minutes=10, hours_ago=24, count=3)
    factories.run(pipeline=etl, status=RunStatus.RUNNING, created_at=ago(hours=2))
    viewer_client.get(HOME)
    completed(etl, minutes=120, hours_ago=12, count=5)  # the median moves to 2 hours

    kept = viewer_client.get(HOME).context["o"].overdue.pipelines
    cache.delete(overview_runs.USUAL_CACHE_KEY)  # as when it expires
    read_again = viewer_client.get(HOME).context["o"].overdue.pipelines

    assert [p.usual for p in kept] == [timedelta(minutes=10)]
    assert read_again == []  # 2 h old, and overdue only after 6 h now


# --- schedules ------------------------------------------------------------------------------------------


def test_it_lists_schedules_that_missed_a_fire_and_the_count_lists_those_schedules(viewer_client):
    failed = factories.schedule(name="nightly-train")
    factories.fire(failed, fire_time=ago(hours=2), status=FireStatus.FAILED, reason="pipeline is disabled")
    factories.fire(failed, fire_time=ago(hours=3), status=FireStatus.FAILED, reason="pipeline is disabled")
    skipped = factories.schedule(name="hourly-ingest")
    factories.fire(skipped, fire_time=ago(hours=5), status=FireStatus.SKIPPED)
    long_ago = factories.schedule(name="weekly-report")
    factories.fire(long_ago, fire_time=ago(hours=30), status=FireStatus.FAILED)
    fine = factories.schedule(name="fine")
    factories.fire(fine, fire_time=ago(hours=1), status=FireStatus.FIRED)

    response = viewer_client.get(HOME)

    health = response.context["o"].schedules
    assert health.missed_count == 2
    assert [f.schedule.name for f in health.missed] == ["nightly-train", "nightly-train", "hourly-ingest"]
    page = response.content.decode()
    assert "pipeline is disabled" in page
    listed = viewer_client.get(href(page, "tile-missed"))
    assert sorted(s.name for s in listed.context["schedules"]) == ["hourly-ingest", "nightly-train"]
    assert number(page, "tile-missed") == 2
    assert "missed a fire (failed or skipped) in the last 24 hours" in listed.content.decode()


def test_it_lists_schedules_firing_in_the_next_hours_and_the_count_lists_those_schedules(viewer_client):
    factories.schedule(name="hourly")
    factories.schedule(name="hourly", backend="azure-prod")  # the same name and time on another backend
    later = (timezone.now() + timedelta(days=2)).replace(tzinfo=None, microsecond=0)
    factories.schedule(
        name="in-two-days",
        trigger={**factories.EVERY_HOUR, "frequency": "day", "start_time": later.isoformat()},
    )
    factories.schedule(name="switched-off", enabled=False)

    response = viewer_client.get(HOME)

    health = response.context["o"].schedules
    assert health.upcoming_count == 2
    assert [(u.schedule.name, u.schedule.backend) for u in health.upcoming] == [
        ("hourly", "local"),  # the same time and name: in the order they were mirrored
        ("hourly", "azure-prod"),
    ]
    assert health.upcoming[0].at <= timezone.now() + timedelta(hours=1)
    page = response.content.decode()
    assert f'href="{html.escape(health.upcoming_url)}">2</a>' in page
    listed = viewer_client.get(health.upcoming_url)
    assert [s.name for s in listed.context["schedules"]] == ["hourly", "hourly"]
    assert "fire in the next 6 hours" in listed.content.decode()


def test_a_schedule_whose_trigger_cannot_be_read_fires_never_and_breaks_nothing(viewer_client):
    factories.schedule(name="broken", trigger={"type": "cron", "expression": "every tuesday-ish"})
    factories.schedule(name="hourly")

    response = viewer_client.get(HOME)

    assert response.status_code == 200
    assert [u.schedule.name for u in response.context["o"].schedules.upcoming] == ["hourly"]


# --- backends and actions -------------------------------------------------------------------------------


def test_it_shows_each_backends_health_and_how_many_are_failing(viewer_client, configure_backends):
    configure_backends({"local": {"engine": "local"}, "azure-dev": {"engine": "local"}})
    BackendState.objects.create(name="local", healthy=True, last_success_at=ago(seconds=20))
    BackendState.objects.create(
        name="azure-dev",
        healthy=False,
        last_success_at=ago(hours=1),
        last_error="403 Forbidden: token expired",
    )
    factories.run(backend="azure-dev", status=RunStatus.RUNNING)

    response = viewer_client.get(HOME)

    page = response.content.decode()
    backends = {b.name: b for b in response.context["o"].backends}
    assert not backends["azure-dev"].healthy and backends["local"].healthy
    assert number(page, "tile-backends") == 1
    row = re.search(r'id="overview-backend-azure-dev".*?</tr>', page, re.S)[0]
    assert "failing" in row and "403 Forbidden: token expired" in row
    assert backends["azure-dev"].active == 1
    assert len(runs_listed(viewer_client, backends["azure-dev"].active_url)) == 1


def test_it_shows_the_latest_actions_and_counts_those_under_way(viewer_client, operator):
    run = factories.run(status=RunStatus.RUNNING)
    factories.action(target=run, user=operator, reason="wrong data")
    factories.action(target=run, user=operator, status=Action.Status.RUNNING)
    factories.action(target=run, user=operator, status=Action.Status.FAILED, error="backend refused")
    for _ in range(overview.ACTIONS_SHOWN):
        factories.action(target=run, user=operator, status=Action.Status.SUCCEEDED)

    response = viewer_client.get(HOME)

    summary = response.context["o"].actions
    assert len(summary.latest) == overview.ACTIONS_SHOWN
    assert summary.latest[0].pk == Action.objects.order_by("-requested_at", "-id")[0].pk
    page = response.content.decode()
    for status, element in (
        (Action.Status.PENDING, "actions-pending"),
        (Action.Status.RUNNING, "actions-running"),
    ):
        assert number(page, element) == 1
        listed = viewer_client.get(href(page, element))
        assert [a.status for a in listed.context["actions"]] == [status]


# --- the page as a whole --------------------------------------------------------------------------------


def world(size: int, start: int = 0) -> None:
    """``size`` of everything the overview reads, on three backends and ``size`` pipelines."""
    for i in range(start, start + size):
        backend = ("local", "azure-prod", "azure-dev")[i % 3]
        pipeline = factories.pipeline(backend=backend, name=f"p{i}")
        completed(pipeline, minutes=10, hours_ago=5, count=2)
        factories.run(backend=backend, pipeline=pipeline, status=RunStatus.RUNNING, created_at=ago(hours=3))
        factories.run(backend=backend, status=RunStatus.QUEUED)
        factories.run(
            backend=backend,
            pipeline=pipeline,
            status=RunStatus.FAILED,
            created_at=ago(hours=1),
            steps=[{"node_id": "train", "status": RunStatus.FAILED}],
        )
        schedule = factories.schedule(backend=backend, name=f"s{i}")
        factories.fire(schedule, fire_time=ago(hours=1), status=FireStatus.FAILED)
        factories.action(backend=backend, status=Action.Status.PENDING)
        BackendState.objects.get_or_create(name=backend, defaults={"healthy": i % 2 == 0})


def test_its_queries_do_not_grow_with_the_runs_pipelines_or_schedules(
    viewer_client, django_assert_max_num_queries
):
    world(2)
    with CaptureQueriesContext(connection) as small:
        viewer_client.get(HOME)
    world(12, start=2)
    cache.delete(overview_runs.USUAL_CACHE_KEY)
    with django_assert_max_num_queries(len(small)), CaptureQueriesContext(connection) as large:
        response = viewer_client.get(HOME)

    assert response.context["o"].active.total == 14 * 2
    assert len(response.context["o"].overdue.pipelines) == 14
    assert len(large) <= 20
    with django_assert_max_num_queries(len(large) - 1):  # the usual times now come from the cache
        viewer_client.get(HOME)


def test_the_page_polls_itself_and_its_poll_gets_the_region_alone(viewer_client):
    factories.run(status=RunStatus.RUNNING)

    page = viewer_client.get(HOME).content.decode()
    fragment = viewer_client.get(HOME, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="overview").content.decode()

    assert re.search(r'<div id="overview" [^>]*hx-get="/" hx-trigger="every \d+s"', page)
    assert fragment.lstrip().startswith('<div id="overview"')
    assert "<html" not in fragment and "<nav" not in fragment
    assert number(fragment, "tile-active") == 1


def test_overview_comes_first_in_the_header_and_is_marked_on_its_page(viewer_client):
    page = viewer_client.get(HOME).content.decode()

    nav = re.search(r"<nav>(.*?)</nav>", page, re.S)[1]
    first = re.search(r"<a [^>]*>([^<]+)</a>", nav)
    assert first[1] == "Overview" and 'aria-current="page"' in first[0]


@pytest.mark.parametrize("role", ["viewer_client", "operator_client", "manager_client", "superuser_client"])
def test_every_role_that_reads_runs_sees_it(role, request):
    assert request.getfixturevalue(role).get(HOME).status_code == 200


def test_a_stranger_gets_403_and_anonymous_is_sent_to_log_in(stranger_client, client):
    assert stranger_client.get(HOME).status_code == 403
    response = client.get(HOME)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_logging_in_lands_on_the_overview(client, viewer):
    response = client.post(reverse("login"), {"username": "viewer", "password": "viewer-pass-123"})

    assert response.status_code == 302 and response["Location"] == HOME
    assert client.get(HOME).templates[0].name == "dashboard/overview.html"
