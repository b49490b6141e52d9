"""A run's graph structure, what is shown of it and its layout: pure functions, no database, no cache."""

from __future__ import annotations

from backends.base import RunStatus
from runs.graph.layout import compute_layout
from runs.graph.structure import Structure
from runs.graph.view import GraphView, visible_graph
from tests.graph_shapes import NESTED_EDGES, NESTED_STEPS, fan_out


def test_the_outline_follows_one_branch_down_before_the_next_and_indents_by_depth():
    structure = Structure.build(
        ["prep", "train_a", "train_b", "eval_a", "eval_b", "report"],
        [
            ("prep", "data", "train_a", "data"),
            ("prep", "data", "train_b", "data"),
            ("train_a", "model", "eval_a", "model"),
            ("train_b", "model", "eval_b", "model"),
            ("eval_a", "score", "report", "a"),
            ("eval_b", "score", "report", "b"),
            ("prep", "data", "report", "data"),
        ],
    )

    assert structure.outline == [
        ("prep", 0),
        ("train_a", 1),
        ("eval_a", 2),
        ("train_b", 1),
        ("eval_b", 2),
        ("report", 3),  # after both branches, at its longest path's depth
    ]


def test_the_outline_keeps_every_step_even_when_a_backend_reports_a_cycle():
    structure = Structure.build(["a", "b", "c"], [("a", "o", "b", "i"), ("b", "o", "a", "i")])
    assert sorted(n for n, _ in structure.outline) == ["a", "b", "c"]


def test_edges_to_unknown_steps_are_dropped():
    structure = Structure.build(["a", "b"], [("a", "o", "b", "i"), ("a", "o", "ghost", "i")])
    assert structure.edges == [("a", "o", "b", "i")]


def test_small_graphs_are_never_collapsed():
    steps, edges = fan_out(150)
    assert Structure.build(steps, edges).groups == {}


def test_siblings_with_the_same_parents_and_children_collapse_from_200_steps():
    steps, edges = fan_out(248)
    structure = Structure.build(steps, edges)

    assert list(structure.groups) == ["shard_000"]
    assert structure.groups["shard_000"] == [f"shard_{i:03d}" for i in range(248)]
    shown = visible_graph(structure, GraphView(), {})
    assert [n.key for n in shown.nodes] == ["split", "shard_000", "merge", "report"]
    assert shown.collapsed == 248


def test_siblings_with_different_children_stay_apart():
    shards = [f"s{i}" for i in range(240)]
    edges = [("split", "parts", s, "parts") for s in shards]
    edges += [(s, "result", "merge_a" if i < 120 else "merge_b", s) for i, s in enumerate(shards)]
    structure = Structure.build(["split", *shards, "merge_a", "merge_b"], edges)

    assert {k: len(m) for k, m in structure.groups.items()} == {"s0": 120, "s120": 120}


def test_collapsed_edges_are_labelled_with_what_they_carry():
    steps, edges = fan_out(248)
    shown = visible_graph(Structure.build(steps, edges), GraphView(), {})
    labels = {(link.source, link.target): link.label for link in shown.links}

    assert labels == {
        ("split", "shard_000"): "parts → parts \N{MULTIPLICATION SIGN}248",
        ("shard_000", "merge"): "result → 248 inputs",
        ("merge", "report"): "merged → folder",
    }


def test_an_expanded_group_shows_each_of_its_steps():
    steps, edges = fan_out(248)
    structure = Structure.build(steps, edges)
    shown = visible_graph(structure, GraphView(expanded=frozenset({"shard_000"})), {})

    assert len(shown.nodes) == 251 and shown.collapsed == 0
    assert GraphView().expanding("shard_000") == "?expand=shard_000"


def test_a_pipeline_components_steps_fold_into_one_node_named_by_its_parent_node_even_in_small_graphs():
    structure = Structure.build(NESTED_STEPS, NESTED_EDGES)

    assert structure.groups == {
        "careful": ["careful.train", "careful.evaluate"],
        "quick": ["quick.train", "quick.inner.a", "quick.inner.b"],
        "quick.inner": ["quick.inner.a", "quick.inner.b"],
    }
    shown = visible_graph(structure, GraphView(), {})
    assert [n.key for n in shown.nodes] == ["prep", "careful", "quick", "compare"]
    assert shown.collapsed == 5
    assert {(link.source, link.target): link.label for link in shown.links} == {
        ("prep", "careful"): "prepared → prepared",
        ("prep", "quick"): "prepared → prepared",
        ("careful", "compare"): "report → careful",
        ("quick", "compare"): "report → quick",
    }


def test_opening_a_pipeline_component_shows_its_steps_and_its_inner_components_still_folded():
    structure = Structure.build(NESTED_STEPS, NESTED_EDGES)

    shown = visible_graph(structure, GraphView(expanded=frozenset({"quick"})), {})

    assert [n.key for n in shown.nodes] == ["prep", "careful", "quick.train", "quick.inner", "compare"]
    assert shown.collapsed == 4
    both = visible_graph(structure, GraphView(expanded=frozenset({"quick", "quick.inner"})), {})
    assert "quick.inner.a" in [n.key for n in both.nodes] and shown.nodes[3].members == (
        "quick.inner.a",
        "quick.inner.b",
    )


def test_the_failed_path_is_the_failures_their_ancestors_and_what_they_blocked():
    structure = Structure.build(
        ["prep", "train_a", "train_b", "eval_a", "eval_b", "report", "side"],
        [
            ("prep", "d", "train_a", "d"),
            ("prep", "d", "train_b", "d"),
            ("train_a", "m", "eval_a", "m"),
            ("train_b", "m", "eval_b", "m"),
            ("eval_a", "s", "report", "a"),
            ("eval_b", "s", "report", "b"),
        ],
    )
    statuses = {"train_b": RunStatus.FAILED}

    assert structure.failed_path(statuses) == {"prep", "train_b", "eval_b", "report"}
    shown = visible_graph(structure, GraphView(failed_only=True), statuses)
    assert [n.key for n in shown.nodes] == ["prep", "train_b", "eval_b", "report"]
    assert visible_graph(structure, GraphView(failed_only=True), {}).nodes == []


def test_a_group_on_the_failed_path_keeps_only_its_failed_members():
    steps, edges = fan_out(248)
    statuses = {"shard_007": RunStatus.FAILED, "shard_100": RunStatus.FAILED}
    structure = Structure.build(steps, edges)
    shown = visible_graph(structure, GraphView(failed_only=True), statuses)

    # Two failed shards are fewer than a group needs: each is drawn.
    assert [n.key for n in shown.nodes] == ["split", "shard_007", "shard_100", "merge", "report"]


def test_the_layout_runs_left_to_right_with_a_box_of_its_own_for_every_step():
    steps, edges = fan_out(20)
    layout = compute_layout(visible_graph(Structure.build(steps, edges), GraphView(), {}))

    boxes = layout["nodes"]
    assert set(boxes) == set(steps)
    assert boxes["split"][0] < boxes["shard_000"][0] < boxes["merge"][0] < boxes["report"][0]
    assert len({x for x, _, _, _ in (boxes[s] for s in steps[1:-2])}) == 1  # the shards are one column
    for a in steps:
        for b in steps:
            ax, ay, aw, ah = boxes[a]
            bx, by, bw, bh = boxes[b]
            assert a == b or ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
    assert all(x + w <= layout["w"] and y + h <= layout["h"] for x, y, w, h in boxes.values())
