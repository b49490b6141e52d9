"""Where a graph's edge labels go and what a step's box says: pure functions, no database, no cache."""

from __future__ import annotations

import re

from runs.graph.layout import (
    ID_CHAR_W,
    LABEL_END,
    NODE_PAD,
    NODE_W,
    compute_layout,
    id_fits_beside_status,
)
from runs.graph.steps import StepRow
from runs.graph.structure import Structure
from runs.graph.svg import node_lines, render_graph
from runs.graph.view import GraphView, visible_graph
from tests.graph_shapes import fan_out


def laid_out(steps, edges):
    shown = visible_graph(Structure.build(steps, edges), GraphView(), {})
    return shown, compute_layout(shown)


def overlap(a, b) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def labels_of(layout) -> dict[tuple[str, str], list[float]]:
    return {(source, target): label for source, target, _, label in layout["edges"]}


def test_a_fan_outs_labels_overlap_neither_each_other_nor_a_box():
    steps, edges = fan_out(20)
    _, layout = laid_out(steps, edges)

    labels = list(labels_of(layout).values())
    assert len(labels) == 41
    for i, a in enumerate(labels):
        assert all(not overlap(a, b) for b in labels[i + 1 :])
        assert all(not overlap(a, box) for box in layout["nodes"].values())
        x, y, w, h = a
        assert 0 <= x and x + w <= layout["w"] and 0 <= y and y + h <= layout["h"]


def test_a_fan_outs_labels_sit_beside_each_line_near_its_target_and_a_fan_ins_near_its_source():
    steps, edges = fan_out(20)
    _, layout = laid_out(steps, edges)
    boxes, labels = layout["nodes"], labels_of(layout)

    for shard in steps[1:-2]:
        sx, sy, sw, sh = boxes[shard]
        x, y, w, h = labels[("split", shard)]  # one of split's 20 outputs: by the shard it goes to
        assert x + w == sx - 2 - LABEL_END
        line = sy + sh / 2  # the edge comes in level with the shard's middle
        assert y + h <= line or y >= line
        x, y, w, h = labels[(shard, "merge")]  # one of merge's 20 inputs: by the shard it comes from
        assert x == sx + sw + LABEL_END - 4
        assert y + h <= line or y >= line
    # The upper shards' edges come up from split, below them: their labels sit above the line; and contrariwise.
    top, bottom = steps[1], steps[-3]
    assert labels[("split", top)][1] < boxes[top][1] + boxes[top][3] / 2
    assert labels[("split", bottom)][1] > boxes[bottom][1] + boxes[bottom][3] / 2


def test_labels_that_would_fall_on_one_another_are_moved_apart():
    # Three outputs of one step into steps with more inputs each: the three labels start at one point.
    steps = ["a", "x", "y", "z", "p", "q", "r", "s"]
    edges = [("a", f"out_{t}", t, "in") for t in ("x", "y", "z")]
    edges += [(o, "o", t, f"from_{o}") for t in ("x", "y", "z") for o in ("p", "q", "r", "s")]
    _, layout = laid_out(steps, edges)

    near_a = [labels_of(layout)[("a", t)] for t in ("x", "y", "z")]
    assert len({label[0] for label in near_a}) == 1  # all three by a's right side
    assert not any(overlap(p, q) for i, p in enumerate(near_a) for q in near_a[i + 1 :])


def test_a_box_is_wide_enough_for_its_whole_node_id():
    long_id = "count_primes_in_the_last_and_largest_shard_of_all"
    _, layout = laid_out(
        ["split", long_id, "merge"], [("split", "p", long_id, "p"), (long_id, "r", "merge", "r")]
    )

    for _, _, w, _ in layout["nodes"].values():
        assert w >= len(long_id) * ID_CHAR_W + 2 * NODE_PAD
    _, short = laid_out(["a", "b"], [("a", "o", "b", "i")])
    assert {w for _, _, w, _ in short["nodes"].values()} == {NODE_W}


def test_a_box_leads_with_its_node_id_when_its_display_name_does_not_tell_it_apart():
    shared = node_lines("shard_07", "Count primes in a shard", name_is_shared=True, box_width=NODE_W)
    assert shared[0] == "shard_07" and shared[2] is True
    assert shared[1].startswith("Count prime") and len(shared[1]) < len("Count primes in a shard")

    unique = node_lines("train", "Train the model", name_is_shared=False, box_width=NODE_W)
    assert unique == ("Train the model", "train", False)

    # An id too long for the second line leads, in a box made wide enough for it (see compute_layout).
    long_id = "evaluate_on_the_holdout_set"
    width = len(long_id) * ID_CHAR_W + 2 * NODE_PAD
    assert not id_fits_beside_status(long_id, width)
    assert node_lines(long_id, "Evaluate", name_is_shared=False, box_width=width) == (
        long_id,
        "Evaluate",
        True,
    )
    assert node_lines("merge", "merge", name_is_shared=False, box_width=NODE_W) == ("merge", "", True)


def test_the_drawing_shows_every_node_id_whole_when_display_names_repeat():
    steps, edges = fan_out(20)
    shown, layout = laid_out(steps, edges)
    rows = {
        n: StepRow(node_id=n, display_name="Count primes in a shard" if "shard" in n else "") for n in steps
    }

    svg = render_graph(layout, shown, rows, lambda step: f"/log/{step.node_id}", lambda key: f"?expand={key}")

    main_lines = re.findall(r'<text class="graph-name graph-name-id" x="10" y="18">([^<]+)</text>', svg)
    assert main_lines == [n.key for n in shown.nodes]
    assert svg.count(">Count prime…</text>") == 20
    assert len(re.findall(r'<g class="graph-edge-label"[^>]*><rect ', svg)) == 41
