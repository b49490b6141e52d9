"""A run's step graph, its live statuses, the timeline, the outline and the definition download."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_htmx.middleware import HtmxDetails

from backends.base import Backend, BackendUnavailable, RunStatus
from backends.local.engine import submit_spec
from backends.local.spec import load_pipeline
from runs import graph
from runs.graph import stored as graph_stored
from runs.models import PipelineRun, StepRun
from runs.run_views import run_graph_status
from runs.sync import sync_run
from tests import factories
from tests.graph_shapes import NESTED_EDGES, NESTED_STEPS, fan_out
from tests.integration.helpers import PIPELINES

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def graph_run(
    steps: list[str | dict],
    edges: list[tuple[str, str, str, str]],
    status: str = RunStatus.RUNNING,
    statuses: dict[str, str] | None = None,
    **fields,
) -> PipelineRun:
    """A run with these steps and edges as the sync mirrors it. Each step (a name, or a dict of StepInfo's
    fields) is Completed unless ``statuses`` says otherwise, queued, started and finished a few seconds apart.
    Given the ``external_id`` of a mirrored run, it is the next sync of that run."""
    now = timezone.now()
    statuses = statuses or {}
    infos = []
    for i, step in enumerate(steps):
        given = {"node_id": step} if isinstance(step, str) else step
        node = given["node_id"]
        infos.append(
            {
                "status": statuses.get(node, RunStatus.COMPLETED),
                "queued_at": now + timedelta(seconds=i % 7),
                "started_at": now + timedelta(seconds=i % 7 + 1),
                "finished_at": now + timedelta(seconds=i % 7 + 3),
                **given,
            }
        )
    fields.setdefault("display_name", "Graph run")
    return factories.run(status=status, created_at=now, steps=infos, edges=edges, **fields)


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def structure_of(run: PipelineRun) -> graph.Structure:
    return graph.Structure.build(
        run.steps.values_list("node_id", flat=True),
        run.edges.values_list("source_node", "source_output", "target_node", "target_input"),
    )


def svg_nodes(page: str) -> list[str]:
    svg = page[page.index('<svg class="graph"') : page.index("</svg>", page.index('<svg class="graph"'))]
    return re.findall(r'<a class="graph-node[^"]*" href="[^"]*" data-node="([^"]+)"', svg)


# --- the structure on the page ------------------------------------------------------------


def test_the_page_draws_a_pipeline_component_as_a_group_titled_by_its_node(viewer_client):
    run = graph_run(NESTED_STEPS, NESTED_EDGES, statuses={"quick.inner.b": RunStatus.FAILED})

    page = viewer_client.get(run.get_absolute_url()).content.decode()

    assert svg_nodes(page) == ["prep", "careful", "quick", "compare"]
    assert "Pipeline component quick: 3 steps. Open to show each." in page
    assert "3 steps · 1 failed" in page
    assert f'href="{run.get_absolute_url()}?expand=quick#graph"' in page
    assert page.count('class="step"') == 7  # the outline lists every step
    opened = viewer_client.get(run.get_absolute_url(), {"expand": "quick"}).content.decode()
    assert svg_nodes(opened) == ["prep", "careful", "quick.train", "quick.inner", "compare"]


# --- the layout and its cache ---------------------------------------------------------------


def test_the_layout_is_computed_once_and_kept_on_the_run(django_assert_num_queries, monkeypatch):
    steps, edges = fan_out(20)
    run = graph_run(steps, edges)
    structure = structure_of(run)
    shown = graph.visible_graph(structure, graph.GraphView(), {})
    calls = []
    real = graph_stored.compute_layout
    monkeypatch.setattr(graph_stored, "compute_layout", lambda g: calls.append(g) or real(g))

    layout = graph.cached_layout(run, structure, shown, default=True)
    stored = PipelineRun.objects.get(pk=run.pk).graph_layout
    assert stored["layouts"][shown.digest] == layout and len(calls) == 1
    assert set(layout["nodes"]) == set(steps)
    # Every node has a box of its own, and edges run left to right.
    boxes = layout["nodes"]
    assert boxes["split"][0] < boxes["shard_000"][0] < boxes["merge"][0] < boxes["report"][0]
    assert len({(x, y) for x, y, _, _ in boxes.values()}) == len(steps)

    cache.clear()
    again = PipelineRun.objects.get(pk=run.pk)
    with django_assert_num_queries(0):
        assert graph.cached_layout(again, structure, shown, default=True) == layout
    assert len(calls) == 1


def test_the_layout_is_computed_again_when_the_steps_change(monkeypatch):
    steps, edges = fan_out(5)
    run = graph_run(steps, edges)
    graph.cached_layout(
        run, structure_of(run), graph.visible_graph(structure_of(run), graph.GraphView(), {}), default=True
    )
    graph_run([*steps, "late"], edges, external_id=run.external_id)
    cache.clear()
    run.refresh_from_db()

    structure = structure_of(run)
    layout = graph.cached_layout(
        run, structure, graph.visible_graph(structure, graph.GraphView(), {}), default=True
    )

    assert "late" in layout["nodes"]
    assert len(PipelineRun.objects.get(pk=run.pk).graph_layout["layouts"]) == 1


def test_a_run_keeps_a_few_layouts_and_always_the_default_one():
    steps, edges = fan_out(248)
    run = graph_run(steps, edges)
    structure = structure_of(run)
    default = graph.visible_graph(structure, graph.GraphView(), {})
    graph.cached_layout(run, structure, default, default=True)
    for i in range(graph.MAX_CACHED_LAYOUTS + 2):
        failed = {f"shard_{j:03d}": RunStatus.FAILED for j in range(i + 1)}
        shown = graph.visible_graph(structure, graph.GraphView(failed_only=True), failed)
        graph.cached_layout(run, structure, shown, default=False)

    stored = PipelineRun.objects.get(pk=run.pk).graph_layout
    assert len(stored["layouts"]) == graph.MAX_CACHED_LAYOUTS
    assert default.digest in stored["layouts"]


# --- the page -------------------------------------------------------------------------------


def test_the_page_draws_every_step_as_a_node_that_opens_its_log(viewer_client):
    steps, edges = fan_out(20)
    run = graph_run(steps, edges)

    page = viewer_client.get(run.get_absolute_url()).content.decode()

    assert svg_nodes(page) == steps
    # A node opens the step's logs, on the one worth reading (for a failed step, the one with its error).
    shard_logs = reverse("runs:step_logs", args=[run.pk, "shard_000"])
    assert f'href="{shard_logs}" data-node="shard_000"' in page
    assert "parts → parts" in page and "result → shard_000" in page
    assert (
        'class="graph-st ok" data-node="merge"' in page
    )  # statuses drawn from the start, without JavaScript


def test_the_page_with_250_steps_collapses_the_fan_out_into_one_node(viewer_client):
    steps, edges = fan_out(247)
    statuses = {"shard_003": RunStatus.FAILED, "shard_200": RunStatus.FAILED, "shard_201": RunStatus.RUNNING}
    run = graph_run(steps, edges, statuses=statuses)

    page = viewer_client.get(run.get_absolute_url()).content.decode()

    assert svg_nodes(page) == ["split", "shard_000", "merge", "report"]
    assert "247 steps · 2 failed" in page
    expand = f'href="{run.get_absolute_url()}?expand=shard_000#graph"'
    assert expand in page
    # The outline still lists every step.
    assert page.count('class="step"') == 250

    expanded = viewer_client.get(run.get_absolute_url(), {"expand": "shard_000"}).content.decode()
    assert len(svg_nodes(expanded)) == 250


def test_the_failed_path_view_draws_only_the_failures_and_their_path(viewer_client):
    steps, edges = fan_out(10)
    run = graph_run(steps, edges, status=RunStatus.FAILED, statuses={"shard_004": RunStatus.FAILED})

    page = viewer_client.get(run.get_absolute_url(), {"view": "failed"}).content.decode()

    assert svg_nodes(page) == ["split", "shard_004", "merge", "report"]
    assert "Failed path only (1 failed)" in page


def test_unknown_view_parameters_show_the_whole_graph(viewer_client):
    run = graph_run(["a", "b"], [("a", "o", "b", "i")])
    response = viewer_client.get(run.get_absolute_url(), {"view": "<x>", "expand": ["nope", ""]})
    assert response.status_code == 200 and svg_nodes(response.content.decode()) == ["a", "b"]


def test_a_run_without_steps_yet_polls_until_they_come(viewer_client):
    run = graph_run([], [])
    page = viewer_client.get(run.get_absolute_url()).content.decode()
    assert "No steps mirrored yet." in page
    key = re.search(r"graph/status\?layout=([0-9a-f]+)", page).group(1)
    graph_run(["first"], [], external_id=run.external_id)  # the next sync brings the first step

    response = viewer_client.get(reverse("runs:graph_status", args=[run.pk]), {"layout": key}, **HTMX)

    assert response["HX-Refresh"] == "true"


def test_the_outline_lists_steps_by_depth_with_their_inputs_outputs_and_links(viewer_client):
    out = "/engine/runs/r1/write/outputs/out"
    run = graph_run(
        [
            {"node_id": "write", "outputs": {"out": out}, "command": "echo hi > $out"},
            {"node_id": "read", "inputs": {"message": out}},
        ],
        [("write", "out", "read", "message")],
        statuses={"read": RunStatus.RUNNING},
    )

    page = viewer_client.get(run.get_absolute_url()).content.decode()

    assert page.index('id="step-write"') < page.index('id="step-read"')
    assert 'class="outline-name outline-d1"' in page
    assert "/engine/runs/r1/write/outputs/out" in page and "from write.out" in page
    assert reverse("runs:step_log", args=[run.pk, "read", "stderr"]) in page


def test_the_timeline_has_a_queue_bar_and_a_run_bar_per_step(viewer_client):
    steps, edges = fan_out(3)
    steps = [{"node_id": "merge", "finished_at": None} if s == "merge" else s for s in steps]
    run = graph_run(steps, edges, statuses={"merge": RunStatus.RUNNING})

    page = viewer_client.get(run.get_absolute_url()).content.decode()
    timeline = page[page.index('<svg class="timeline"') :]
    timeline = timeline[: timeline.index("</svg>")]

    assert timeline.count('class="timeline-row"') == 6
    assert timeline.count('class="timeline-queue"') == 6
    assert timeline.count('class="timeline-run live"') == 1 and timeline.count('class="timeline-run ok"') == 5
    assert ">0s</text>" in timeline


def test_the_live_region_brings_the_steps_and_timeline_out_of_band(viewer_client):
    run = graph_run(["a", "b"], [("a", "o", "b", "i")], statuses={"b": RunStatus.RUNNING})
    response = viewer_client.get(run.get_absolute_url(), {"expand": "x"}, HTTP_HX_TARGET="run-live", **HTMX)
    body = response.content.decode()

    assert response.status_code == 200
    assert 'id="run-steps" hx-swap-oob="true"' in body and 'class="timeline"' in body
    assert f'hx-get="{run.get_absolute_url()}?expand=x&amp;seen=' in body  # polls the view it shows
    assert '<svg class="graph"' not in body  # the structure is never sent again


def test_the_live_region_answers_204_while_nothing_changed(viewer_client, django_assert_max_num_queries):
    run = graph_run(["a", "b"], [("a", "o", "b", "i")], statuses={"b": RunStatus.RUNNING})
    first = viewer_client.get(run.get_absolute_url(), HTTP_HX_TARGET="run-live", **HTMX)
    seen = first.context["live_url"].split("seen=")[1]

    with django_assert_max_num_queries(7):  # session, user, run, actions, the run again, permissions: no step
        unchanged = viewer_client.get(
            run.get_absolute_url(), {"seen": seen}, HTTP_HX_TARGET="run-live", **HTMX
        )
    assert unchanged.status_code == 204

    PipelineRun.objects.filter(pk=run.pk).update(backend_updated_at=timezone.now())
    changed = viewer_client.get(run.get_absolute_url(), {"seen": seen}, HTTP_HX_TARGET="run-live", **HTMX)
    assert changed.status_code == 200 and 'id="run-steps"' in changed.content.decode()


# --- live statuses --------------------------------------------------------------------------


def status_request(run: PipelineRun, key: str, user):
    request = RequestFactory().get(reverse("runs:graph_status", args=[run.pk]), {"layout": key}, **HTMX)
    request.user = user
    request.htmx = HtmxDetails(request)
    return request


def test_the_status_endpoint_recolours_the_drawn_nodes_with_one_query_for_the_steps(
    viewer_client, viewer, django_assert_num_queries
):
    steps, edges = fan_out(247)
    run = graph_run(steps, edges, statuses={"shard_010": RunStatus.RUNNING})
    page = viewer_client.get(run.get_absolute_url()).content.decode()
    key = re.search(r"graph/status\?layout=([0-9a-f]+)", page).group(1)
    StepRun.objects.filter(run=run, node_id="shard_011").update(status=RunStatus.FAILED)

    request = status_request(run, key, viewer)
    with django_assert_num_queries(3):  # the viewer's permissions (its own, its groups'), then the steps
        response = run_graph_status(request, run.pk)
    body = response.content.decode()

    assert response.status_code == 200
    assert "247 steps · 1 failed" in body and 'class="graph-st bad" data-node="shard_000"' in body
    assert 'data-node="merge" data-status="Completed"' in body
    assert 'hx-trigger="every 2s"' in body and '<svg class="graph"' not in body


def test_the_status_endpoint_answers_no_content_while_nothing_it_shows_changed(viewer_client):
    run = graph_run(["a", "b"], [("a", "o", "b", "i")], statuses={"b": RunStatus.RUNNING})
    page = viewer_client.get(run.get_absolute_url()).content.decode()
    poll = re.search(r'hx-get="([^"]*/graph/status[^"]*)"', page).group(1).replace("&amp;", "&")

    assert viewer_client.get(poll, **HTMX).status_code == 204
    StepRun.objects.filter(run=run, node_id="b").update(status=RunStatus.FAILED)
    changed = viewer_client.get(poll, **HTMX)

    assert changed.status_code == 200 and 'data-node="b" data-status="Failed"' in changed.content.decode()
    again = re.search(r'hx-get="([^"]*)"', changed.content.decode()).group(1).replace("&amp;", "&")
    assert again != poll and viewer_client.get(again, **HTMX).status_code == 204


def test_the_status_endpoint_stops_polling_once_the_run_is_terminal(viewer_client):
    run = graph_run(["a", "b"], [("a", "o", "b", "i")])
    page = viewer_client.get(run.get_absolute_url()).content.decode()
    key = re.search(r"graph/status\?layout=([0-9a-f]+)", page).group(1)
    url = reverse("runs:graph_status", args=[run.pk])

    assert viewer_client.get(url, {"layout": key}, **HTMX).status_code == 200
    PipelineRun.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)
    done = viewer_client.get(url, {"layout": key}, **HTMX)

    assert done.status_code == 286
    assert "every 2s" not in done.content.decode() and 'data-status="Completed"' in done.content.decode()


def test_the_status_endpoint_reads_the_layout_from_the_run_when_the_cache_lost_it(viewer_client):
    run = graph_run(["a", "b"], [("a", "o", "b", "i")])
    key = re.search(r"layout=([0-9a-f]+)", viewer_client.get(run.get_absolute_url()).content.decode()).group(
        1
    )
    cache.clear()

    response = viewer_client.get(reverse("runs:graph_status", args=[run.pk]), {"layout": key}, **HTMX)

    assert response.status_code == 200 and 'data-node="b"' in response.content.decode()


def test_the_status_endpoint_asks_for_a_new_page_when_the_steps_changed(viewer_client):
    run = graph_run(["a", "b"], [("a", "o", "b", "i")])
    key = re.search(r"layout=([0-9a-f]+)", viewer_client.get(run.get_absolute_url()).content.decode()).group(
        1
    )
    graph_run(["a", "b", "c"], [("a", "o", "b", "i")], external_id=run.external_id)
    url = reverse("runs:graph_status", args=[run.pk])

    changed = viewer_client.get(url, {"layout": key}, **HTMX)
    unknown = viewer_client.get(url, {"layout": "0123abcd"}, **HTMX)

    assert changed["HX-Refresh"] == "true" and unknown["HX-Refresh"] == "true"
    assert viewer_client.get(reverse("runs:graph_status", args=[999999]), {"layout": key}).status_code == 404


# --- the definition -------------------------------------------------------------------------


def test_download_yaml_gives_the_definition_the_run_was_submitted_with(viewer_client, engine_dir):
    local = submit_spec(load_pipeline(PIPELINES / "two_steps.yml"))
    run = sync_run("local", local.pk)

    response = viewer_client.get(reverse("runs:definition", args=[run.pk]))

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{local.pk}.yml"'
    assert response.content.decode() == (PIPELINES / "two_steps.yml").read_text()
    assert (
        f'href="{reverse("runs:definition", args=[run.pk])}"'
        in viewer_client.get(run.get_absolute_url()).content.decode()
    )


class DownBackend(Backend):
    def get_definition(self, run_id):
        raise BackendUnavailable("workspace ml.example is not answering (HTTP 503)")


def test_a_backend_error_on_download_is_a_message_not_a_500(viewer_client, configure_backends):
    configure_backends(
        {"local": {"engine": "local"}, "remote": {"engine": "tests.test_run_graph.DownBackend"}}
    )
    run = graph_run(["a"], [], backend="remote")

    response = viewer_client.get(reverse("runs:definition", args=[run.pk]), follow=True)

    assert response.redirect_chain[-1][0] == run.get_absolute_url()
    assert "not answering (HTTP 503)" in response.content.decode()


def test_a_run_of_a_backend_no_longer_configured_has_no_definition_to_download(viewer_client):
    run = graph_run(["a"], [], backend="retired")
    response = viewer_client.get(reverse("runs:definition", args=[run.pk]), follow=True)
    assert "could not be read" in response.content.decode()


def test_a_viewer_may_read_the_graph_and_a_stranger_may_not(viewer_client, stranger_client):
    run = graph_run(["a"], [])
    assert stranger_client.get(run.get_absolute_url()).status_code == 403
    assert stranger_client.get(reverse("runs:definition", args=[run.pk])).status_code == 403
    assert stranger_client.get(reverse("runs:step_logs", args=[run.pk, "a"])).status_code == 403
    assert viewer_client.get(run.get_absolute_url()).status_code == 200
    assert viewer_client.get(reverse("runs:step_logs", args=[run.pk, "a"])).status_code == 302
