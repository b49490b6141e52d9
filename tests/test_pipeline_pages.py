"""The pipelines page (last run, success rate and median duration over the last 20 runs, runs in 24 h) and a
pipeline's page (its runs through the runs list's filters, and a duration trend)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from backends.base import RunStatus
from runs.models import Pipeline, PipelineRun
from runs.pipeline_views import recent_runs
from tests import factories

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "run-table"}


def make_run(
    pipeline: Pipeline, status: str, *, ago: timedelta, duration: float | None = None
) -> PipelineRun:
    return factories.run(pipeline=pipeline, status=status, created_at=timezone.now() - ago, duration=duration)


@pytest.fixture
def train():
    """25 runs: the oldest five all failed (outside the last 20), then 15 completed and 5 failed, newest last."""
    pipeline = factories.pipeline(external_id="train")
    for i in range(5):
        make_run(pipeline, RunStatus.FAILED, ago=timedelta(days=10, minutes=i), duration=1000.0)
    for i in range(20):
        status = RunStatus.FAILED if i % 4 == 0 else RunStatus.COMPLETED
        make_run(pipeline, status, ago=timedelta(hours=30 - i), duration=float(10 * (i + 1)))
    make_run(pipeline, RunStatus.RUNNING, ago=timedelta(minutes=1))
    return pipeline


def row(html: str, pipeline: Pipeline) -> str:
    return re.search(rf'<tr id="pipeline-{pipeline.pk}">(.*?)</tr>', html, re.S).group(1)


def test_the_pipelines_page_shows_each_pipelines_recent_health(viewer_client, train):
    idle = factories.pipeline(external_id="idle")

    html = viewer_client.get(reverse("runs:pipeline_list")).content.decode()

    train_row = row(html, train)
    # The last 20: the running one and 19 of the 20 above; finished among them: 19, of which 4 failed (i=4, 8, 12, 16).
    assert "Running" in train_row
    assert "79%" in train_row and "of 19 finished" in train_row
    assert "1m 50s" in train_row  # median of 20, 30, ..., 200 s without the first (10 s): 110 s
    assert '<td class="num">14</td>' in train_row  # 13 finished and the running one, in 24 h
    assert "no runs yet" in row(html, idle)


def test_the_pipelines_page_takes_the_same_few_queries_however_many_pipelines(
    viewer_client, django_assert_max_num_queries
):
    for i in range(30):
        pipeline = factories.pipeline(external_id=f"p{i:02d}")
        for j in range(3):
            make_run(pipeline, RunStatus.COMPLETED, ago=timedelta(hours=j), duration=5.0)

    with django_assert_max_num_queries(9):  # session, user, permissions, backend health; then three
        response = viewer_client.get(reverse("runs:pipeline_list"))

    assert response.status_code == 200 and response.content.decode().count('<tr id="pipeline-') == 30


def test_recent_runs_are_each_pipelines_newest_first(train):
    other = factories.pipeline(external_id="other")
    make_run(other, RunStatus.FAILED, ago=timedelta(minutes=5))

    recent = recent_runs([train.pk, other.pk], 20)

    assert len(recent[train.pk]) == 20 and len(recent[other.pk]) == 1
    times = [r.created_at for r in recent[train.pk]]
    assert times == sorted(times, reverse=True)
    assert recent[train.pk][0].status == RunStatus.RUNNING


def test_a_pipeline_page_lists_only_its_runs_with_the_lists_filters(viewer_client, train):
    other = factories.pipeline(external_id="other")
    make_run(other, RunStatus.FAILED, ago=timedelta(minutes=2))
    url = reverse("runs:pipeline_detail", args=[train.pk])

    response = viewer_client.get(url, {"status": "Failed"})

    runs = response.context["runs"]
    assert runs and {r.pipeline_id for r in runs} == {train.pk} and {r.status for r in runs} == {"Failed"}
    html = response.content.decode()
    assert 'name="pipeline"' not in html  # the pipeline is the page's, not a filter
    assert f'action="{url}"' in html


def test_a_pipeline_pages_filters_swap_its_table(viewer_client, train):
    url = reverse("runs:pipeline_detail", args=[train.pk])
    response = viewer_client.get(url, {"sort": "-duration"}, **HTMX)

    assert response.status_code == 200 and "<html" not in response.content.decode()
    assert response["HX-Push-Url"] == f"{url}?sort=-duration"
    assert response.context["runs"][0].duration_seconds == 1000.0


def test_a_pipeline_page_draws_its_last_50_durations_coloured_by_status(viewer_client, train):
    for i in range(30):
        make_run(train, RunStatus.COMPLETED, ago=timedelta(minutes=30 + i), duration=60.0)

    html = viewer_client.get(reverse("runs:pipeline_detail", args=[train.pk])).content.decode()

    svg = re.search(r'<svg class="pipelines-spark".*?</svg>', html, re.S).group(0)
    bars = re.findall(r'<rect class="pipelines-bar (\w+)"', svg)
    assert len(bars) == 50
    assert bars[-1] == "live" and "bad" in bars and "ok" in bars  # newest on the right: the running one
    assert 'class="pipelines-median"' in svg and "style=" not in svg


def test_an_unknown_pipeline_is_a_404(viewer_client):
    assert viewer_client.get(reverse("runs:pipeline_detail", args=[999])).status_code == 404


def test_the_pipelines_pages_need_the_read_permission(stranger_client, train):
    assert stranger_client.get(reverse("runs:pipeline_list")).status_code == 403
    assert stranger_client.get(reverse("runs:pipeline_detail", args=[train.pk])).status_code == 403
