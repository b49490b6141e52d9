"""The runs list: every filter and their combinations, both sorts both ways, cursors, invalid values, the
live-changes endpoint and cancelling many runs after a preview."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from backends.base import RunStatus
from dashboard.models import Action
from runs import filters
from runs.filters import parse_run_query, run_page
from runs.models import Pipeline, PipelineRun
from tests import factories

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "run-table"}
BASE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_counter = iter(range(1, 1_000_000))


def make_run(status: str = RunStatus.COMPLETED, **fields) -> PipelineRun:
    """A run created a minute before the one made before it, so the newest-first order is the order made;
    the n-th lasted n seconds if it ended."""
    n = next(_counter)
    fields.setdefault("display_name", f"Nightly training {n}")
    fields.setdefault("created_at", BASE - timedelta(minutes=n))
    if RunStatus.is_terminal(status):
        fields.setdefault("duration", float(n))
    return factories.run(status=status, **fields)


def shown(response) -> list[str]:
    return [r.external_id for r in response.context["runs"]]


def get(client, **params):
    return client.get(reverse("runs:list"), params)


# --- showing and filtering -----------------------------------------------------------------------


def test_every_page_needs_a_login(client):
    response = client.get(reverse("runs:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_it_lists_runs_newest_first_with_status_pipeline_experiment_and_duration(viewer_client):
    make_run(external_id="older", created_at=BASE - timedelta(hours=1))
    make_run(RunStatus.FAILED, external_id="newer", pipeline_id="train", experiment_name="exp-a")

    page = get(viewer_client).content.decode()

    assert page.index('mono">newer<') < page.index('mono">older<')
    assert "Failed" in page and "train" in page and "exp-a" in page


def test_it_filters_by_backend(viewer_client):
    make_run(external_id="here", backend="local")
    make_run(external_id="there", backend="azure-prod")
    assert shown(get(viewer_client, backend="azure-prod")) == ["there"]


def test_it_filters_by_pipeline(viewer_client):
    train = factories.pipeline(external_id="train")
    other = factories.pipeline(external_id="other")
    make_run(external_id="t1", pipeline=train)
    make_run(external_id="o1", pipeline=other)
    make_run(external_id="t2", pipeline=train)

    assert shown(get(viewer_client, pipeline=train.pk)) == ["t1", "t2"]


def test_it_filters_by_experiment(viewer_client):
    make_run(external_id="a", experiment_name="exp-a")
    make_run(external_id="b", experiment_name="exp-b")
    assert shown(get(viewer_client, experiment="exp-b")) == ["b"]


def test_it_filters_by_several_statuses_at_once_keeping_the_order(viewer_client):
    make_run(RunStatus.RUNNING, external_id="r1")
    make_run(RunStatus.COMPLETED, external_id="c1")
    make_run(RunStatus.FAILED, external_id="f1")
    make_run(RunStatus.RUNNING, external_id="r2")
    make_run(RunStatus.FAILED, external_id="f2")

    response = viewer_client.get(reverse("runs:list") + "?status=Running&status=Failed")

    assert shown(response) == ["r1", "f1", "r2", "f2"]


def test_it_filters_by_a_tag_key_or_a_key_and_value(viewer_client):
    make_run(external_id="vision", tags={"team": "vision"})
    make_run(external_id="nlp", tags={"team": "nlp", "release": "v2"})
    make_run(external_id="untagged")

    assert shown(get(viewer_client, tag="team")) == ["vision", "nlp"]
    assert shown(get(viewer_client, tag="team=nlp")) == ["nlp"]
    assert shown(get(viewer_client, tag="release")) == ["nlp"]
    assert shown(get(viewer_client, tag="team=")) == []  # an empty value is a value


def test_it_filters_by_submitter(viewer_client):
    make_run(external_id="mine", submitted_by="ada")
    make_run(external_id="theirs", submitted_by="bob")
    assert shown(get(viewer_client, submitted_by="ada")) == ["mine"]


def test_it_filters_by_created_between_dates_or_times(viewer_client):
    for day in range(1, 6):
        make_run(external_id=f"day{day}", created_at=datetime(2026, 3, day, 12, tzinfo=UTC))

    assert shown(get(viewer_client, created_after="2026-03-02", created_before="2026-03-04")) == [
        "day4",  # a date as the end takes in that whole day
        "day3",
        "day2",
    ]
    assert shown(get(viewer_client, created_after="2026-03-03T12:00", created_before="2026-03-04 11:59")) == [
        "day3"
    ]
    assert shown(get(viewer_client, created_after="2026-03-05")) == ["day5"]


def test_created_between_reads_times_in_the_viewers_time_zone(viewer_client):
    make_run(external_id="utc-noon", created_at=datetime(2026, 3, 3, 12, tzinfo=UTC))
    viewer_client.cookies["tz"] = "America/New_York"  # 07:00 there

    assert shown(get(viewer_client, created_after="2026-03-03 06:30", created_before="2026-03-03 07:30")) == [
        "utc-noon"
    ]
    assert (
        shown(get(viewer_client, created_after="2026-03-03 11:30", created_before="2026-03-03 12:30")) == []
    )


def test_the_text_box_matches_display_names_and_run_id_prefixes(viewer_client):
    make_run(external_id="keen_lamp_1", display_name="Train ResNet")
    make_run(external_id="calm_river_2", display_name="evaluate")
    make_run(external_id="keen_lamp_3", display_name="summarize")

    assert shown(get(viewer_client, q="resnet")) == ["keen_lamp_1"]  # any case, anywhere in the name
    assert shown(get(viewer_client, q="keen_lamp")) == ["keen_lamp_1", "keen_lamp_3"]
    assert shown(get(viewer_client, q="calm_river_2")) == ["calm_river_2"]
    assert shown(get(viewer_client, q="river")) == []  # an id matches from its start only


def test_an_exact_run_id_is_found_beyond_the_search_window(viewer_client, monkeypatch):
    monkeypatch.setattr(filters, "SEARCH_WINDOW", 3)
    old = make_run(external_id="old_one", created_at=BASE - timedelta(days=30))
    for _ in range(10):
        make_run()

    assert shown(get(viewer_client, q=old.external_id)) == ["old_one"]


def test_a_text_search_looks_through_a_window_of_runs_and_offers_to_go_on(viewer_client, monkeypatch):
    monkeypatch.setattr(filters, "SEARCH_WINDOW", 4)
    for i in range(10):
        make_run(external_id=f"r{i}", display_name="match" if i in (1, 8) else "other")

    first = get(viewer_client, q="match")
    assert shown(first) == ["r1"]
    assert first.context["page"].window_cut and "Search further" in first.content.decode()
    second = viewer_client.get(first.context["next_url"])
    assert shown(second) == []
    third = viewer_client.get(second.context["next_url"])
    assert shown(third) == ["r8"] and third.context["next_url"] == ""


def test_filters_combine(viewer_client):
    train = factories.pipeline(external_id="train")
    make_run(RunStatus.FAILED, external_id="hit", pipeline=train, tags={"team": "nlp"}, submitted_by="ada")
    make_run(
        RunStatus.FAILED, external_id="wrong-team", pipeline=train, tags={"team": "cv"}, submitted_by="ada"
    )
    make_run(RunStatus.COMPLETED, external_id="wrong-status", pipeline=train, tags={"team": "nlp"})
    make_run(RunStatus.FAILED, external_id="no-pipeline", tags={"team": "nlp"}, submitted_by="ada")

    response = viewer_client.get(
        reverse("runs:list"),
        {"status": ["Failed", "Running"], "pipeline": train.pk, "tag": "team=nlp", "submitted_by": "ada"},
    )

    assert shown(response) == ["hit"]


def test_it_sorts_by_created_or_duration_either_way_with_unfinished_runs_last(viewer_client):
    make_run(external_id="short", duration=5.0, created_at=BASE - timedelta(hours=3))
    make_run(RunStatus.RUNNING, external_id="running", created_at=BASE - timedelta(hours=1))
    make_run(external_id="long", duration=500.0, created_at=BASE - timedelta(hours=2))

    assert shown(get(viewer_client)) == ["running", "long", "short"]
    assert shown(get(viewer_client, sort="created")) == ["short", "long", "running"]
    assert shown(get(viewer_client, sort="-duration")) == ["long", "short", "running"]
    assert shown(get(viewer_client, sort="duration")) == ["short", "long", "running"]


# --- pages and cursors ---------------------------------------------------------------------------


def test_the_list_pages_through_runs_with_a_cursor_and_never_counts(
    viewer_client, django_assert_max_num_queries
):
    for i in range(55):
        make_run(external_id=f"r{i:02d}", created_at=BASE - timedelta(minutes=i))

    first = get(viewer_client)
    assert len(first.context["runs"]) == 50 and first.context["page"].next_cursor
    assert "50 shown, more" in first.content.decode()
    second = viewer_client.get(first.context["next_url"])

    assert shown(second) == [f"r{i}" for i in range(50, 55)]
    assert second.context["page"].next_cursor == ""
    assert "5 shown" in second.content.decode()


def _reference(runs: list[PipelineRun], sort: str) -> list[int]:
    """The order the list promises, computed the slow way: nulls last in both directions, then by id."""
    field = "created_at" if "created" in sort else "duration_seconds"
    descending = sort.startswith("-")
    with_value = [r for r in runs if getattr(r, field) is not None]
    without = [r for r in runs if getattr(r, field) is None]
    with_value.sort(key=lambda r: (getattr(r, field), r.pk), reverse=descending)
    without.sort(key=lambda r: r.pk, reverse=descending)
    return [r.pk for r in with_value + without]


def _matches(run: PipelineRun, params: dict) -> bool:
    if "status" in params and run.status not in params["status"]:
        return False
    if "pipeline" in params and run.pipeline_id != params["pipeline"]:
        return False
    if "tag" in params:
        key, _, value = params["tag"].partition("=")
        if key not in run.tags or ("=" in params["tag"] and run.tags[key] != value):
            return False
    if "q" in params:
        q = params["q"]
        if q.lower() not in run.display_name.lower() and not run.external_id.startswith(q):
            return False
    return True


@pytest.fixture(scope="class")
def crowd(django_db_setup, django_db_blocker):
    """Runs with ties on created_at, no duration for unfinished ones, tags, several statuses and pipelines.

    Made once for the 72 walks of the class below, which only read it: through the sync path a crowd takes a
    third of a second to make. It is committed outside each walk's transaction, so it is removed when the class
    ends, before the next test of this file."""
    rnd = random.Random(5)
    statuses = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.RUNNING, RunStatus.QUEUED]
    with django_db_blocker.unblock():
        pipelines = [factories.pipeline(external_id=f"p{i}") for i in range(3)]
        runs = []
        for i in range(90):
            status = rnd.choice(statuses)
            created = BASE - timedelta(minutes=rnd.randrange(25))  # many runs share a created_at
            runs.append(
                make_run(
                    status,
                    external_id=f"{rnd.choice(['keen', 'calm'])}_{i:03d}",
                    display_name=rnd.choice(["train", "Evaluate", "train-large"]),
                    created_at=created,
                    duration=float(rnd.randrange(8)) if RunStatus.is_terminal(status) else None,
                    pipeline=rnd.choice(pipelines),
                    tags={"team": rnd.choice(["a", "b"])} if rnd.random() < 0.7 else {},
                )
            )
    yield runs, pipelines
    with django_db_blocker.unblock():
        PipelineRun.objects.filter(pk__in=[r.pk for r in runs]).delete()
        Pipeline.objects.filter(pk__in=[p.pk for p in pipelines]).delete()


class TestWalkingEveryPage:
    @pytest.mark.parametrize("sort", ["-created", "created", "-duration", "duration"])
    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"status": ["Failed", "Running", "Queued"]},
            {"status": ["Completed"]},
            {"tag": "team=a"},
            {"tag": "team", "status": ["Running", "Completed"]},
            {"tag": "team=b", "status": ["Running", "Queued"]},
            {"q": "train"},
            {"q": "keen_0", "status": ["Failed", "Completed"]},
            {"pipeline": 1},
        ],
        ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "all",
    )
    @pytest.mark.parametrize("probe", [5000, 3], ids=["few-sorted-here", "many-walked"])
    def test_shows_each_matching_run_once_in_order(self, crowd, monkeypatch, params, sort, probe):
        """Small pages and a small search window: many cursors, ties on created_at, both segments of a sort, and
        both ways of sorting by duration with a filter."""
        runs, pipelines = crowd
        monkeypatch.setattr(filters, "SEARCH_WINDOW", 9)
        monkeypatch.setattr(filters, "PROBE", probe)
        params = dict(params)
        if "pipeline" in params:
            params["pipeline"] = pipelines[params["pipeline"]].pk
        expected = [pk for pk in _reference(runs, sort) if _matches(PipelineRun.objects.get(pk=pk), params)]
        querydict = QueryDict(mutable=True)
        for key, value in {**params, "sort": sort}.items():
            querydict.setlist(key, value if isinstance(value, list) else [str(value)])

        seen, pages = [], 0
        query, _ = parse_run_query(querydict, pipelines=list(Pipeline.objects.all()))
        assert query.valid, query.errors
        while True:
            page = run_page(query, size=7)
            seen += [r.pk for r in page.runs]
            pages += 1
            if not page.next_cursor:
                break
            query.after = query.order.parse(page.next_cursor)
            assert query.after is not None
            assert pages < 200

        assert seen == expected


def test_a_cursor_from_another_order_or_a_broken_one_shows_the_first_page_with_a_message(viewer_client):
    make_run(external_id="only")
    for cursor in [
        "nonsense",
        "created_x_1",
        "duration_12.5_3",
        "created_1_x",
        "created_99999999999999999999999_1",
    ]:
        response = get(viewer_client, cursor=cursor)
        assert response.status_code == 200
        assert shown(response) == ["only"]
        assert "does not fit this list" in response.content.decode()


# --- invalid filter values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"created_after": "2026-13-01"}, "created_after", "Not a date"),
        ({"created_before": "yesterday"}, "created_before", "Not a date"),
        (
            {"created_after": "2026-03-05", "created_before": "2026-03-01"},
            "created_before",
            "before the start",
        ),
        ({"status": "Sleeping"}, "status", "Unknown status “Sleeping”"),
        ({"tag": "=vision"}, "tag", "key or key=value"),
        ({"pipeline": "9999"}, "pipeline", "No pipeline"),
        ({"pipeline": "abc"}, "pipeline", "No pipeline"),
        ({"sort": "size"}, "sort", "Unknown order"),
        ({"q": "x" * 300}, "q", "at most 255"),
    ],
)
def test_an_invalid_filter_value_is_named_next_to_its_field_and_lists_nothing(
    viewer_client, params, field, message
):
    make_run(external_id="any")
    for extra in ({}, HTMX):
        response = viewer_client.get(reverse("runs:list"), params, **extra)
        assert response.status_code == 200
        assert message in response.context["errors"][field]
        assert shown(response) == []
        html = response.content.decode()
        assert message in html and "fix the filter" in html
        assert 'value="all"' not in html  # no "cancel all matching" for a list that cannot be read


# --- the fragment and its URL --------------------------------------------------------------------


def test_htmx_gets_the_table_and_the_filters_out_of_band_with_the_canonical_url(viewer_client):
    make_run(RunStatus.FAILED, external_id="f")
    response = viewer_client.get(
        reverse("runs:list") + "?q=&status=Failed&backend=&experiment=&tag=&sort=-created", **HTMX
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="run-table"') and "<html" not in html
    assert 'id="run-filters"' in html and 'hx-swap-oob="true"' in html
    assert response["HX-Push-Url"] == reverse("runs:list") + "?status=Failed"


def test_the_pager_links_keep_the_filters(viewer_client):
    for i in range(52):
        make_run(RunStatus.FAILED, external_id=f"f{i:02d}")
    response = get(viewer_client, status="Failed", sort="-created")
    query = parse_qs(urlsplit(response.context["next_url"]).query)
    assert query["status"] == ["Failed"] and "cursor" in query and "sort" not in query


# --- live rows -----------------------------------------------------------------------------------


def _poll_url_in(html: str) -> str:
    found = re.search(r'id="runs-live"(?: hx-swap-oob="true")? hx-get="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else ""


def _poll_url(response) -> str:
    return _poll_url_in(response.content.decode())


def test_the_first_page_polls_for_changes_of_its_active_runs_and_for_new_runs(viewer_client):
    running = make_run(RunStatus.RUNNING)
    make_run(RunStatus.COMPLETED)

    url = _poll_url(get(viewer_client))
    params = parse_qs(urlsplit(url).query)

    assert url.startswith(reverse("runs:changes"))
    assert params["ids"] == [str(running.pk)] and "after_id" in params and params["since"][0].isdigit()


def test_an_older_page_of_ended_runs_does_not_poll(viewer_client):
    for i in range(52):
        make_run(RunStatus.COMPLETED, created_at=BASE - timedelta(minutes=i))
    first = get(viewer_client)
    second = viewer_client.get(first.context["next_url"])
    assert _poll_url(second) == ""
    assert (
        _poll_url(get(viewer_client, sort="created")) == ""
    )  # new runs do not appear on an oldest-first page


def test_the_changes_endpoint_returns_only_rows_synced_since_the_cursor(
    viewer_client, django_assert_max_num_queries
):
    quiet = make_run(RunStatus.RUNNING, external_id="quiet")
    busy = make_run(RunStatus.RUNNING, external_id="busy")
    since = timezone.now()
    PipelineRun.objects.filter(pk=busy.pk).update(
        status=RunStatus.FINALIZING, synced_at=since + timedelta(seconds=1)
    )
    micros = (since - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)

    # The session, the user, its permissions (its own, its groups'), the rows, the new ones, failing backends.
    with django_assert_max_num_queries(7):
        response = viewer_client.get(
            reverse("runs:changes"), {"ids": f"{quiet.pk},{busy.pk}", "since": micros}
        )
    html = response.content.decode()

    assert response.status_code == 200
    assert f'<tr id="run-{busy.pk}" hx-swap-oob="true">' in html and "Finalizing" in html
    assert f"run-{quiet.pk}" not in html
    assert f"ids={quiet.pk}%2C{busy.pk}" in html  # both still active: keep watching them


def test_the_changes_endpoint_stops_polling_when_nothing_shown_can_change(viewer_client):
    run = make_run(RunStatus.RUNNING)
    PipelineRun.objects.filter(pk=run.pk).update(status=RunStatus.CANCELED)

    response = viewer_client.get(reverse("runs:changes"), {"ids": str(run.pk), "since": "0"})

    assert response.status_code == 286
    assert "Canceled" in response.content.decode() and "hx-trigger" not in response.content.decode()
    assert viewer_client.get(reverse("runs:changes"), {"ids": "", "since": "0"}).status_code == 286


def test_the_changes_endpoint_puts_new_runs_matching_the_filters_on_top(
    viewer_client, django_assert_max_num_queries
):
    newest = make_run(RunStatus.COMPLETED).pk
    hit = make_run(RunStatus.FAILED, tags={"team": "nlp"})
    make_run(RunStatus.FAILED, tags={"team": "cv"})
    make_run(RunStatus.COMPLETED, tags={"team": "nlp"})
    params = {
        "ids": "",
        "since": "0",
        "after_id": newest,
        "shown": "1",
        "status": "Failed",
        "tag": "team=nlp",
    }

    with django_assert_max_num_queries(8):  # as above, and the new runs
        response = viewer_client.get(reverse("runs:changes"), {**params, "list": "/runs/"})
    html = response.content.decode()

    assert response.status_code == 200  # the newest-first first page keeps polling
    added = re.search(r'<tbody hx-swap-oob="afterbegin:#run-rows">(.*?)</tbody>', html, re.S).group(1)
    assert re.findall(r'<tr id="run-(\d+)"', added) == [str(hit.pk)]
    assert '<span id="runs-count" class="runs-count" hx-swap-oob="true">2 shown</span>' in html
    poll = parse_qs(urlsplit(_poll_url_in(html)).query)
    assert poll["after_id"] == [str(PipelineRun.objects.latest("pk").pk)] and poll["shown"] == ["2"]


def test_a_burst_of_new_runs_is_offered_rather_than_added(viewer_client, monkeypatch):
    monkeypatch.setattr("runs.views.PAGE_SIZE", 2)
    monkeypatch.setattr(filters, "PAGE_SIZE", 2)
    newest = make_run().pk
    for _ in range(3):
        make_run()

    html = viewer_client.get(
        reverse("runs:changes"), {"since": "0", "after_id": newest, "list": "/runs/", "experiment": ""}
    ).content.decode()

    assert "afterbegin" not in html and "2+ new runs — show" in html and 'href="/runs/"' in html


def test_the_changes_endpoint_ignores_garbage(viewer_client):
    response = viewer_client.get(
        reverse("runs:changes"), {"ids": "x,1;2", "since": "never", "after_id": "-1"}
    )
    assert response.status_code == 286


def test_the_changes_endpoint_needs_the_read_permission(stranger_client):
    assert stranger_client.get(reverse("runs:changes"), {"ids": "1"}).status_code == 403


# --- cancelling many runs ------------------------------------------------------------------------


def test_an_operator_sees_checkboxes_and_the_bulk_controls_a_viewer_does_not(operator_client, viewer_client):
    make_run(RunStatus.RUNNING)
    assert 'class="runs-select"' in get(operator_client).content.decode()
    assert "All matching these filters" in get(operator_client).content.decode()
    html = get(viewer_client).content.decode()
    assert "runs-select" not in html and "runs-bulk" not in html


def test_the_preview_lists_which_runs_will_be_cancelled_and_which_already_ended(operator_client):
    running = make_run(RunStatus.RUNNING, external_id="running")
    queued = make_run(RunStatus.QUEUED, external_id="queued")
    done = make_run(RunStatus.COMPLETED, external_id="done")
    cancelling = make_run(RunStatus.CANCEL_REQUESTED, external_id="cancelling")

    response = operator_client.post(
        reverse("runs:bulk_cancel"),
        {"ids": [running.pk, queued.pk, done.pk, cancelling.pk], "scope": "selected"},
    )

    assert response.status_code == 200
    assert [r.external_id for r in response.context["cancelling"]] == ["running", "queued"]
    assert [r.external_id for r in response.context["left"]] == ["done", "cancelling"]
    assert "Cancel 2 runs" in response.content.decode()
    assert not Action.objects.exists()


def test_all_matching_previews_the_filtered_runs_capped_and_says_so(operator_client, monkeypatch):
    monkeypatch.setattr(filters, "BULK_CAP", 3)
    monkeypatch.setattr("runs.views.BULK_CAP", 3)
    for _ in range(5):
        make_run(RunStatus.RUNNING, experiment_name="sweep")
    make_run(RunStatus.RUNNING, experiment_name="other")

    response = operator_client.post(
        reverse("runs:bulk_cancel"), {"scope": "all", "query": "experiment=sweep&status=Running"}
    )

    assert len(response.context["cancelling"]) == 3 and response.context["capped"]
    assert {r.experiment_name for r in response.context["cancelling"]} == {"sweep"}
    assert "The first 3 runs" in response.content.decode()


def test_all_matching_refuses_a_filter_it_cannot_read(operator_client):
    response = operator_client.post(
        reverse("runs:bulk_cancel"), {"scope": "all", "query": "created_after=soon", "next": "/runs/"}
    )
    assert response.status_code == 302
    assert not Action.objects.exists()


def test_confirming_writes_one_action_per_run_still_active_and_enqueues_each(
    operator_client, operator, django_capture_on_commit_callbacks
):
    running = make_run(RunStatus.RUNNING)
    queued = make_run(RunStatus.QUEUED)
    ended_meanwhile = make_run(RunStatus.COMPLETED)

    with django_capture_on_commit_callbacks() as callbacks:
        response = operator_client.post(
            reverse("runs:bulk_cancel"),
            {
                "confirm": "1",
                "ids": [running.pk, queued.pk, ended_meanwhile.pk],
                "reason": " bad data ",
                "next": "/runs/?status=Running",
            },
        )

    assert response.status_code == 302 and response["Location"] == "/runs/?status=Running"
    actions = list(Action.objects.order_by("pk"))
    assert [(a.kind, a.target_id, a.reason, a.requested_by) for a in actions] == [
        ("cancel_run", running.external_id, "bad data", operator),
        ("cancel_run", queued.external_id, "bad data", operator),
    ]
    assert len(callbacks) == 2


def test_a_bulk_cancel_never_redirects_off_site(operator_client):
    run = make_run(RunStatus.RUNNING)
    response = operator_client.post(
        reverse("runs:bulk_cancel"), {"confirm": "1", "ids": [run.pk], "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("runs:list")


@pytest.mark.parametrize("data", [{"ids": ["1"], "scope": "selected"}, {"confirm": "1", "ids": ["1"]}])
def test_a_viewer_gets_403_and_nothing_changes(viewer_client, data):
    run = make_run(RunStatus.RUNNING)
    data = {**data, "ids": [run.pk]}

    response = viewer_client.post(reverse("runs:bulk_cancel"), data)

    assert response.status_code == 403
    assert not Action.objects.exists()
    assert PipelineRun.objects.get(pk=run.pk).status == RunStatus.RUNNING


def test_bulk_cancel_rejects_get(operator_client):
    assert operator_client.get(reverse("runs:bulk_cancel")).status_code == 405
