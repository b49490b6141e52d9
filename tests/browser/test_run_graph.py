"""In Chromium: a run's step graph, drawn by the server, opens a step's log from a node and follows statuses live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from backends.base import RunStatus
from backends.local import executor
from backends.local.engine import submit_spec
from backends.local.models import LocalStep
from backends.local.spec import load_pipeline
from backends.registry import get_backend
from runs.models import PipelineRun, StepRun
from runs.sync import sync_run
from tests.browser.conftest import ARTIFACTS, log_in
from tests.integration.helpers import EXAMPLES, PIPELINES, submit, wait_for, wait_for_status
from tests.test_run_graph import fan_out, graph_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def mirrored(run_id: str, statuses: set[str]) -> PipelineRun:
    return wait_for(
        lambda: PipelineRun.objects.filter(external_id=run_id, status__in=statuses).first(),
        what=f"the mirror of {run_id} to be one of {sorted(statuses)}",
    )


def test_the_fan_out_graph_has_a_node_per_step_that_opens_its_log(page, live_server, viewer, celery_beat):
    run_id = submit(EXAMPLES / "fan-out" / "pipeline.yml")
    wait_for_status(run_id, set(RunStatus.TERMINAL), timeout=180)
    run = mirrored(run_id, {RunStatus.COMPLETED})

    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")

    nodes = page.locator("svg.graph a.graph-node")
    expect(nodes).to_have_count(23)
    expect(page.locator("svg.graph .graph-edge")).to_have_count(41)
    expect(page.locator("svg.graph")).to_contain_text("parts → parts")
    expect(page.locator('#graph-status [data-node="merge"]')).to_have_attribute("data-status", "Completed")
    expect(page.locator("svg.timeline .timeline-row")).to_have_count(23)
    # Server-drawn SVG under the content security policy: no inline style anywhere.
    assert page.evaluate("document.querySelectorAll('style, [style]').length") == 0

    # Every shard shares the display name "Count primes in a shard": each leads with its own node id.
    expect(page.locator('svg.graph a.graph-node[data-node="shard_07"] text').first).to_have_text("shard_07")
    frame, svg = boxes(page, ".graph-frame")[0], boxes(page, "svg.graph")[0]
    assert svg["width"] <= frame["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#graph").screenshot(path=str(ARTIFACTS / "graph-fan-out-example.png"))

    page.locator('svg.graph a.graph-node[data-node="shard_07"]').click()

    expect(page).to_have_url(re.compile(rf"/runs/{run.pk}/steps/shard_07/logs/stdout/$"))
    expect(page.locator("main")).to_contain_text("shard_07")


def test_the_graph_follows_statuses_live_without_reloading(page, live_server, viewer, celery_beat):
    run_id = submit(PIPELINES / "sleeper.yml")
    wait_for_status(run_id, {RunStatus.RUNNING})
    run = mirrored(run_id, {RunStatus.RUNNING})
    wait_for(lambda: run.steps.filter(node_id="sleep", status=RunStatus.RUNNING).exists(), what="the step")

    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    sleep = page.locator('#graph-status [data-node="sleep"]')
    expect(sleep).to_have_attribute("data-status", "Running", timeout=10_000)
    expect(page.locator('#graph-status [data-node="after"]')).to_have_attribute("data-status", "NotStarted")
    page.locator("#details-sleep summary").click()  # a reader's open details stay open through live updates
    # Marks that a reload, or a new drawing of the structure, would wipe out.
    page.evaluate(
        "() => { window.__sameDocument = true; document.querySelector('svg.graph').dataset.mark = '1'; }"
    )

    get_backend("local").cancel_run(run_id)

    expect(sleep).to_have_attribute("data-status", "Canceled", timeout=15_000)
    expect(page.locator("#step-sleep")).to_contain_text("Canceled")  # the outline, out of band
    expect(page.locator("#details-sleep")).to_have_attribute("open", "")
    assert page.evaluate("() => window.__sameDocument === true")
    assert page.evaluate("() => document.querySelector('svg.graph').dataset.mark") == "1"
    # The run is over: the overlay's last answer (286) stopped its polling.
    expect(page.locator("#graph-status")).not_to_have_attribute("hx-get", re.compile(".+"), timeout=10_000)
    wait_for_status(run_id, set(RunStatus.TERMINAL))


def test_a_wide_fan_out_is_one_node_that_expands_on_click(page, live_server, viewer):
    steps, edges = fan_out(247)
    run = graph_run(steps, edges, statuses={"shard_009": RunStatus.FAILED})

    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")

    expect(page.locator("svg.graph a.graph-node")).to_have_count(4)
    group = page.locator('#graph-status [data-node="shard_000"]')
    expect(group).to_have_attribute("data-status", "247 steps · 1 failed")
    expect(page.locator("table.outline tr.step")).to_have_count(250)

    page.locator('svg.graph a.graph-group[data-node="shard_000"]').click()

    expect(page).to_have_url(re.compile(r"\?expand=shard_000#graph$"))
    expect(page.locator("svg.graph a.graph-node")).to_have_count(250)
    page.get_by_role("link", name="Failed path only (1 failed)").click()
    expect(page.locator("svg.graph a.graph-node")).to_have_count(4)  # split, shard_009, merge, report


# --- reading a large graph: fit, zoom, pan, names, labels -------------------------------------


def fan_out_example(**fields) -> PipelineRun:
    """The run of examples/fan-out as the sync mirrors it: split → 20 shards of one component → merge → summarize."""
    shards = [f"shard_{i:02d}" for i in range(20)]
    steps = [
        {"node_id": "split", "display_name": "split"},
        *({"node_id": s, "display_name": "Count primes in a shard"} for s in shards),
        {"node_id": "merge", "display_name": "merge"},
        {"node_id": "summarize", "display_name": "Summarize a folder"},
    ]
    edges = [("split", "parts", s, "parts") for s in shards]
    edges += [(s, "result", "merge", s) for s in shards]
    edges.append(("merge", "merged", "summarize", "folder"))
    return graph_run(steps, edges, **fields)


def view_box(page) -> list[float]:
    return [float(v) for v in page.locator("svg.graph").get_attribute("viewBox").split()]


def boxes(page, selector: str) -> list[dict]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.getBoundingClientRect().toJSON())")


def placed(page, nodes: str, box: str) -> dict[str, tuple[int, int, int, int]]:
    """{node id: its box's place on the page, in whole px}."""
    return page.eval_on_selector_all(
        nodes,
        """(els, box) => Object.fromEntries(els.map(e => {
            const r = e.querySelector(box).getBoundingClientRect();
            return [e.dataset.node, [r.left, r.top, r.width, r.height].map(Math.round)];
        }))""",
        box,
    )


def inside(inner: dict, outer: dict, slack: float = 0.5) -> bool:
    return (
        inner["left"] >= outer["left"] - slack
        and inner["right"] <= outer["right"] + slack
        and inner["top"] >= outer["top"] - slack
        and inner["bottom"] <= outer["bottom"] + slack
    )


def open_graph(page, live_server, run: PipelineRun) -> None:
    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    expect(page.locator(".graph-frame.is-zoomable")).to_be_visible()


def test_the_fan_out_graph_fits_its_box_with_every_node_in_it(page, live_server, viewer):
    run = fan_out_example()
    open_graph(page, live_server, run)

    frame = boxes(page, ".graph-frame")[0]
    svg = boxes(page, "svg.graph")[0]
    assert svg["width"] <= frame["width"]
    nodes = boxes(page, "svg.graph a.graph-node .graph-box")
    assert len(nodes) == 23 and all(inside(n, svg) for n in nodes)
    # The statuses are drawn exactly under the boxes.
    assert placed(page, "svg.graph a.graph-node", ".graph-box") == placed(
        page, "#graph-status .graph-st", "rect"
    )
    assert page.evaluate("document.querySelectorAll('style, [style]').length") == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#graph").screenshot(path=str(ARTIFACTS / "graph-fan-out-fitted.png"))


def test_a_narrow_window_draws_the_graph_smaller_not_wider_than_its_box(page, live_server, viewer):
    page.set_viewport_size({"width": 700, "height": 860})
    run = fan_out_example()
    open_graph(page, live_server, run)

    frame = boxes(page, ".graph-frame")[0]
    svg = boxes(page, "svg.graph")[0]
    assert svg["width"] <= frame["width"] and view_box(page)[2] > svg["width"]  # drawn below natural size
    assert all(inside(n, svg) for n in boxes(page, "svg.graph a.graph-node .graph-box"))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 700


def test_a_graph_taller_than_two_windows_opens_at_the_frames_width_and_fit_shows_it_whole(
    page, live_server, viewer
):
    steps, edges = fan_out(247)
    run = graph_run(steps, edges)
    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}?expand=all")
    expect(page.locator(".graph-frame.is-zoomable")).to_be_visible()

    frame, svg = boxes(page, ".graph-frame")[0], boxes(page, "svg.graph")[0]
    assert svg["width"] <= frame["width"] and svg["height"] <= 2 * 860
    x, y, _, h = view_box(page)
    assert (x, y) == (0, 0) and h < 14_000  # the top of the graph, at a scale that reads
    top = boxes(page, 'svg.graph a.graph-node[data-node="shard_000"] .graph-box')[0]
    assert inside(top, svg) and top["height"] >= 40

    page.get_by_role("button", name="Fit").click()
    whole = view_box(page)
    nodes = boxes(page, "svg.graph a.graph-node .graph-box")
    assert len(nodes) == 250 and all(inside(n, svg) for n in nodes)
    assert whole[3] > h


def test_zoom_buttons_change_the_view_box_and_fit_shows_the_whole_graph_again(page, live_server, viewer):
    run = fan_out_example()
    open_graph(page, live_server, run)
    whole = view_box(page)

    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    zoomed = view_box(page)
    assert zoomed[2] < whole[2] and zoomed[3] < whole[3]
    status_box = page.locator("#graph-status svg").get_attribute("viewBox")
    assert status_box == page.locator("svg.graph").get_attribute("viewBox")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#graph").screenshot(path=str(ARTIFACTS / "graph-fan-out-zoomed.png"))

    # A new status drawing from the overlay's poll takes the zoomed view too.
    StepRun.objects.filter(run=run, node_id="shard_03").update(status=RunStatus.FAILED)
    expect(page.locator('#graph-status [data-node="shard_03"]')).to_have_attribute("data-status", "Failed")
    expect(page.locator("#graph-status svg")).to_have_attribute("viewBox", " ".join(f"{v:g}" for v in zoomed))

    page.get_by_role("button", name="Zoom out").click()
    assert zoomed[2] < view_box(page)[2] < whole[2]
    page.get_by_role("button", name="Fit").click()
    assert view_box(page) == whole


def test_the_wheel_zooms_about_the_pointer_and_a_drag_pans(page, live_server, viewer):
    run = fan_out_example()
    open_graph(page, live_server, run)
    whole = view_box(page)
    svg = boxes(page, "svg.graph")[0]
    x, y = svg["left"] + svg["width"] * 0.6, svg["top"] + 30

    page.mouse.move(x, y)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -300)
    page.keyboard.up("Control")
    expect(page.locator("svg.graph")).not_to_have_attribute("viewBox", " ".join(map(str, whole)))
    zoomed = view_box(page)
    assert zoomed[2] < whole[2]

    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 120, y + 5, steps=6)
    page.mouse.move(x - 200, y + 10, steps=6)
    page.mouse.up()
    panned = view_box(page)
    assert panned[2:] == zoomed[2:] and panned[0] > zoomed[0]
    assert "/steps/" not in page.url  # the drag ended over a node without opening it

    page.mouse.move(x, y)
    page.mouse.wheel(0, 300)  # the graph has been clicked into: a plain wheel zooms (out)
    expect(page.locator("svg.graph")).not_to_have_attribute("viewBox", " ".join(map(str, panned)))
    assert view_box(page)[2] > panned[2]


def test_steps_that_share_a_display_name_show_their_whole_node_ids(page, live_server, viewer):
    long_id = "count_primes_in_the_last_and_largest_shard"
    run = fan_out_example()
    extra = graph_run(
        [
            {"node_id": "split", "display_name": "Split"},
            {"node_id": long_id, "display_name": "Count primes in a shard"},
            {"node_id": "shard_b", "display_name": "Count primes in a shard"},
        ],
        [("split", "parts", long_id, "parts"), ("split", "parts", "shard_b", "parts")],
    )
    open_graph(page, live_server, run)

    for i in range(20):
        node = page.locator(f'svg.graph a.graph-node[data-node="shard_{i:02d}"]')
        expect(node.locator("text").first).to_have_text(f"shard_{i:02d}")
        expect(node).to_contain_text("Count prime")

    page.goto(f"{live_server.url}{extra.get_absolute_url()}")
    node = page.locator(f'svg.graph a.graph-node[data-node="{long_id}"]')
    expect(node.locator("text").first).to_have_text(long_id)
    text = boxes(page, f'svg.graph a.graph-node[data-node="{long_id}"] text')[0]
    box = boxes(page, f'svg.graph a.graph-node[data-node="{long_id}"] .graph-box')[0]
    assert inside(text, box)


def test_edge_labels_stand_clear_of_each_other_on_a_background(page, live_server, viewer):
    run = fan_out_example()
    open_graph(page, live_server, run)

    labels = boxes(page, "svg.graph .graph-edge-label rect")
    assert len(labels) == 41
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            assert (
                a["right"] <= b["left"]
                or b["right"] <= a["left"]
                or a["bottom"] <= b["top"]
                or b["bottom"] <= a["top"]
            )
    texts = boxes(page, "svg.graph .graph-edge-label text")
    assert all(inside(t, r, slack=1) for t, r in zip(texts, labels, strict=True))
    nodes = boxes(page, "svg.graph a.graph-node .graph-box")
    assert not any(inside(label, node, slack=0) for label in labels for node in nodes)


def test_clicking_a_failed_node_opens_its_stderr_with_the_error(
    page, live_server, viewer, engine_dir, settings, tmp_path, monkeypatch
):
    settings.LOG_INDEX_DIR = tmp_path / "log-index"
    monkeypatch.setattr(executor, "advance", lambda run_id: None)  # nothing runs: the logs are written here
    local = submit_spec(load_pipeline(PIPELINES / "two_steps.yml"))
    for node, status, stdout, stderr in (
        ("write", RunStatus.COMPLETED, b"wrote\n", b""),
        (
            "read",
            RunStatus.FAILED,
            b"reading message.txt\n",
            b"Traceback (most recent call last):\nOSError: gone\n",
        ),
    ):
        step = local.steps.get(node_id=node)
        LocalStep.objects.filter(pk=step.pk).update(status=status)
        for name, data in (("stdout", stdout), ("stderr", stderr)):
            path = executor.log_path(step, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    run = sync_run("local", local.pk)

    log_in(page, live_server, "viewer", "viewer-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    page.locator('svg.graph a.graph-node[data-node="read"]').click()

    expect(page).to_have_url(re.compile(rf"/runs/{run.pk}/steps/read/logs/stderr/$"))
    expect(page.locator(".log")).to_contain_text("OSError: gone")
    tabs = page.locator("nav.tabs a")
    expect(tabs.nth(0)).to_have_text("stdout · 20 bytes")
    expect(tabs.nth(1)).to_have_text("stderr · 49 bytes")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "graph-failed-node-stderr.png"))

    page.go_back()
    page.locator('svg.graph a.graph-node[data-node="write"]').click()
    expect(page).to_have_url(re.compile(rf"/runs/{run.pk}/steps/write/logs/stdout/$"))
