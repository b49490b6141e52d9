"""A run's step graph: its structure, collapsed groups, the failed path, a cached layered layout, and SVG.

The structure (steps and the edges between them) comes from the mirror. The layout is grandalf's Sugiyama
(layered) layout, computed once per shown graph and kept in ``PipelineRun.graph_layout``. Statuses are drawn
apart from the structure, as an overlay at the cached positions, so a live update never lays the graph out again.

The SVG is written here as strings, not by a template loop: at 1,000 steps a template costs tens of milliseconds
where string building costs one or two.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from html import escape
from itertools import pairwise
from urllib.parse import quote, urlencode

from django.core.cache import cache
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from backends.base import RunStatus
from runs.models import STEP_RUN_FIELDS, PipelineRun, StepRun
from runs.templatetags.runboard import duration, status_class

# From this many steps, siblings with the same parents and the same children are drawn as one node.
COLLAPSE_FROM = 200
MIN_GROUP = 3
# A step named "<node>.<job>" is a job of the pipeline component run by <node>: the component's steps are drawn
# as one node, named <node>, until it is opened (Azure ML Studio shows a pipeline component so).
NESTED = "."
FAILED = frozenset({RunStatus.FAILED, RunStatus.NOT_RESPONDING})
CLASS_OF = {status: status_class(status) for status in RunStatus.ALL}  # ok, bad, live, warn, muted, idle


def _status(status: str) -> str:
    """A status for HTML: Azure ML's words as they are, anything else escaped."""
    return status if status in CLASS_OF else escape(status)


# Geometry, in SVG user units (pixels at natural size). Left to right: a fan-out is a column, not a row.
NODE_W, NODE_H = 180, 44
LAYER_GAP = 130  # between columns; edge labels live here
NODE_GAP = 14  # between nodes of a column
DUMMY_SPAN = 12  # room a long edge takes where it crosses a column
COMPONENT_GAP = 28
MARGIN = 16
LAYOUT_VERSION = 2
MAX_CACHED_LAYOUTS = 4  # per run: the default view's and the most recent others (expanded, failed path)
PLAN_SECONDS = 24 * 3600


# --- loading the steps ---------------------------------------------------------------------


class StepRow:
    """What the run page shows of a step: StepRun's fields and the properties the page uses.

    Made from raw rows: at 1,000 steps Django's per-value converters (datetimes and JSON parsed by regex and
    a decoder class) and model instances cost ~40 ms, a third of the page's budget; the raw rows cost ~3 ms.
    """

    FIELDS = STEP_RUN_FIELDS
    __slots__ = FIELDS
    JSON = ("inputs", "outputs", "log_names")
    TIMES = ("queued_at", "started_at", "finished_at")

    def __init__(self, **values) -> None:
        for name, value in values.items():
            setattr(self, name, value)

    @property
    def default_log(self) -> str:
        return self.log_names[0] if self.log_names else "stdout"

    @property
    def is_terminal(self) -> bool:
        return RunStatus.is_terminal(self.status)

    @property
    def duration(self):
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


def _datetime(value):
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite keeps UTC without an offset


def _json(value):
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def load_steps(run_pk: int) -> list[StepRow]:
    """The run's steps in pipeline order, by the ORM's own SQL but without its per-value converters."""
    query = StepRun.objects.filter(run_id=run_pk).order_by("position", "node_id").values_list(*StepRow.FIELDS)
    sql, params = query.query.sql_with_params()
    with connections[query.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    json_at = [StepRow.FIELDS.index(f) for f in StepRow.JSON]
    time_at = [StepRow.FIELDS.index(f) for f in StepRow.TIMES]
    reused_at = StepRow.FIELDS.index("is_reused")
    steps = []
    for row in rows:
        row = list(row)
        for i in json_at:
            row[i] = _json(row[i])
        for i in time_at:
            row[i] = _datetime(row[i])
        row[reused_at] = bool(row[reused_at])
        steps.append(StepRow(**dict(zip(StepRow.FIELDS, row, strict=True))))
    return steps


# --- structure ------------------------------------------------------------------------------


Edge = tuple[str, str, str, str]  # source node, source output, target node, target input


@dataclass
class Structure:
    """Steps in pipeline order and the data edges between them (edges to unknown steps dropped)."""

    order: list[str]
    edges: list[Edge]
    parents: dict[str, list[str]]
    children: dict[str, list[str]]

    @classmethod
    def build(cls, node_ids: Iterable[str], edges: Iterable[Edge]) -> Structure:
        order = list(dict.fromkeys(node_ids))
        position = {n: i for i, n in enumerate(order)}
        kept: list[Edge] = []
        parents: dict[str, set[str]] = {n: set() for n in order}
        children: dict[str, set[str]] = {n: set() for n in order}
        for edge in edges:
            source, _, target, _ = edge
            if source in position and target in position and source != target:
                kept.append(tuple(edge))
                parents[target].add(source)
                children[source].add(target)
        return cls(
            order=order,
            edges=kept,
            parents={n: sorted(p, key=position.__getitem__) for n, p in parents.items()},
            children={n: sorted(c, key=position.__getitem__) for n, c in children.items()},
        )

    @cached_property
    def outline(self) -> list[tuple[str, int]]:
        """(node id, depth) in the order an indented list reads best.

        A topological order that follows one branch down before starting the next (Kahn's algorithm with a
        stack); depth is the longest path from a step without inputs from other steps.
        """
        waiting = {n: len(p) for n, p in self.parents.items()}
        depth: dict[str, int] = {}
        result: list[tuple[str, int]] = []
        stack = [n for n in reversed(self.order) if waiting[n] == 0]
        while stack:
            node = stack.pop()
            depth[node] = max((depth[p] + 1 for p in self.parents[node]), default=0)
            result.append((node, depth[node]))
            ready = []
            for child in self.children[node]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
            stack.extend(reversed(ready))  # children are in pipeline order; the first is popped first
        if len(result) < len(self.order):  # a cycle: a backend's bug, but the list must still show every step
            result.extend((n, 0) for n in self.order if n not in depth)
        return result

    @cached_property
    def groups(self) -> dict[str, list[str]]:
        """{key: members}: the steps of each pipeline component (key: its node's name, outer ones first), then,
        in big graphs, siblings fanned out from the same parents into the same children (key: the first member's
        node id, so an expanded group's URL stays readable and stable)."""
        nested: dict[str, list[str]] = {}
        for node in self.order:
            parts = node.split(NESTED)
            for depth in range(1, len(parts)):
                nested.setdefault(NESTED.join(parts[:depth]), []).append(node)
        groups = dict(sorted(nested.items(), key=lambda item: item[0].count(NESTED)))
        if len(self.order) < COLLAPSE_FROM:
            return groups
        by_neighbours: dict[tuple, list[str]] = {}
        for node in self.order:
            if NESTED not in node:
                key = (tuple(self.parents[node]), tuple(self.children[node]))
                by_neighbours.setdefault(key, []).append(node)
        groups.update(
            (members[0], members) for members in by_neighbours.values() if len(members) >= MIN_GROUP
        )
        return groups

    def failed_path(self, statuses: Mapping[str, str]) -> set[str]:
        """Failed steps, every step upstream of them, and every step downstream that they blocked."""
        failed = [n for n in self.order if statuses.get(n) in FAILED]
        return set(failed) | _reach(failed, self.parents) | _reach(failed, self.children)


def _reach(start: Iterable[str], neighbours: Mapping[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for n in neighbours[todo.pop()]:
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


# --- what is shown --------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphView:
    """What the reader asked to see, from the query string: ?view=failed, ?expand=<group key> (repeatable)."""

    failed_only: bool = False
    expanded: frozenset[str] = frozenset()
    expand_all: bool = False

    @classmethod
    def from_query(cls, query) -> GraphView:
        expand = [k for k in query.getlist("expand") if k]
        return cls(
            failed_only=query.get("view") == "failed",
            expanded=frozenset(k for k in expand if k != "all"),
            expand_all="all" in expand,
        )

    @property
    def is_default(self) -> bool:
        return self == GraphView()

    def query(self, **changes) -> str:
        """This view's query string (with ``changes``), "" for the default view."""
        view = GraphView(**{**self.__dict__, **changes})
        params = [("view", "failed")] if view.failed_only else []
        if view.expand_all:
            params.append(("expand", "all"))
        else:
            params.extend(("expand", k) for k in sorted(view.expanded))
        return "?" + urlencode(params) if params else ""

    def expanding(self, key: str) -> str:
        return self.query(expanded=self.expanded | {key})


@dataclass
class Node:
    key: str  # a step's node id, or a group's key
    members: tuple[str, ...]  # the steps it stands for
    is_group: bool = False


@dataclass
class Link:
    source: str
    target: str
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (output, input) of every edge it stands for

    @property
    def label(self) -> str:
        if len(self.pairs) == 1:
            return "{} → {}".format(*self.pairs[0])
        outputs = sorted({o for o, _ in self.pairs})
        inputs = sorted({i for _, i in self.pairs})
        if len(outputs) == 1 and len(inputs) == 1:
            count = f" \N{MULTIPLICATION SIGN}{len(self.pairs)}" if len(self.pairs) > 1 else ""
            return f"{outputs[0]} → {inputs[0]}{count}"
        left = outputs[0] if len(outputs) == 1 else f"{len(outputs)} outputs"
        right = inputs[0] if len(inputs) == 1 else f"{len(inputs)} inputs"
        return f"{left} → {right}"

    @property
    def detail(self) -> str:
        if len(self.pairs) == 1:
            return "{} → {}".format(*self.pairs[0])
        shown = [f"{o} → {i}" for o, i in sorted(self.pairs)[:12]]
        more = len(self.pairs) - len(shown)
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


@dataclass
class VisibleGraph:
    nodes: list[Node]  # in outline order
    links: list[Link]
    collapsed: int  # how many steps are hidden inside groups

    @cached_property
    def digest(self) -> str:
        """Names the layout: the same shown graph has the same layout, whatever the statuses."""
        shape = [
            LAYOUT_VERSION,
            [[n.key, list(n.members) if n.is_group else None] for n in self.nodes],
            [[link.source, link.target] for link in self.links],
        ]
        return hashlib.sha1(json.dumps(shape, separators=(",", ":")).encode()).hexdigest()[:20]


def is_nested(key: str, members: Iterable[str]) -> bool:
    """Whether a group is a pipeline component's steps (its key its node's name), not a fan-out."""
    return all(m.startswith(key + NESTED) for m in members)


def visible_graph(structure: Structure, view: GraphView, statuses: Mapping[str, str]) -> VisibleGraph:
    shown = structure.failed_path(statuses) if view.failed_only else None
    groups = {} if view.expand_all else structure.groups
    folded = {}  # group key -> its shown members, for the groups still collapsed
    group_of: dict[str, str] = {}  # step -> the collapsed group it is drawn in (the outermost)
    for key, members in groups.items():
        if key not in view.expanded:
            members = [m for m in members if (shown is None or m in shown) and m not in group_of]
            if len(members) >= (1 if is_nested(key, members) else MIN_GROUP):
                folded[key] = members
                group_of.update(dict.fromkeys(members, key))
    folded_drawn: set[str] = set()
    key_of: dict[str, str] = {}  # step -> the node it is drawn as
    nodes: list[Node] = []
    for node, _ in structure.outline:
        if shown is not None and node not in shown:
            continue
        group = group_of.get(node)
        if group is None:
            nodes.append(Node(node, (node,)))
        elif group not in folded_drawn:  # drawn where its first member comes in the outline
            folded_drawn.add(group)
            nodes.append(Node(group, tuple(folded[group]), is_group=True))
        key_of[node] = group or node
    collapsed = sum(len(m) for m in folded.values())
    links: dict[tuple[str, str], Link] = {}
    for source, output, target, input_ in structure.edges:
        a, b = key_of.get(source), key_of.get(target)
        if a is None or b is None or a == b:
            continue
        links.setdefault((a, b), Link(a, b)).pairs.append((output, input_))
    return VisibleGraph(nodes=nodes, links=list(links.values()), collapsed=collapsed)


# --- layout ---------------------------------------------------------------------------------


class _Box:
    """grandalf's vertex view. Its layout is top to bottom: w is the extent within a layer, h across."""

    def __init__(self, w: float, h: float) -> None:
        self.w, self.h = w, h
        self.xy = (0.0, 0.0)


class _Route:
    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def setpath(self, points) -> None:
        self.points = list(points)


def compute_layout(graph: VisibleGraph) -> dict:
    """Boxes and edge routes, left to right, through grandalf's Sugiyama layout (each component on its own).

    {"key", "w", "h", "nodes": {key: [x, y, w, h]}, "groups": {key: [members]}, "edges": [...]}; the SVG paths
    and label places are kept too, so drawing a cached layout is string joining.
    """
    from grandalf.graphs import Edge as GEdge
    from grandalf.graphs import Graph as GGraph
    from grandalf.graphs import Vertex
    from grandalf.layouts import SugiyamaLayout

    rank = {n.key: i for i, n in enumerate(graph.nodes)}
    vertices = {n.key: Vertex(n.key) for n in graph.nodes}
    for v in vertices.values():
        v.view = _Box(NODE_H, NODE_W)
    gedges = []
    for link in graph.links:
        e = GEdge(vertices[link.source], vertices[link.target])
        e.view = _Route()
        gedges.append(e)
    whole = GGraph(list(vertices.values()), gedges)
    boxes: dict[str, list[float]] = {}
    routes: dict[tuple[str, str], list[tuple[float, float]]] = {}
    top, width = MARGIN, 0.0
    for component in sorted(whole.C, key=lambda c: min(rank[v.data] for v in c.sV)):
        sugiyama = SugiyamaLayout(component)
        sugiyama.xspace, sugiyama.yspace = NODE_GAP, LAYER_GAP
        sugiyama.dw, sugiyama.dh = DUMMY_SPAN, NODE_W
        sugiyama.init_all()
        sugiyama.draw()
        # Transpose grandalf's top-to-bottom drawing: its y (layers) is our x, its x is our y.
        centres = {v.data: (v.view.xy[1], v.view.xy[0]) for v in component.sV}
        xs = [x for x, _ in centres.values()]
        ys = [y for _, y in centres.values()]
        for e in component.sE:
            for gx, gy in e.view.points[1:-1]:
                xs.append(gy)
                ys.append(gx)
        left = min(xs) - NODE_W / 2
        upper = min(ys) - NODE_H / 2
        dx, dy = MARGIN - left, top - upper
        for key, (cx, cy) in centres.items():
            boxes[key] = [_r(cx - NODE_W / 2 + dx), _r(cy - NODE_H / 2 + dy), NODE_W, NODE_H]
        for e in component.sE:
            middle = [(_r(gy + dx), _r(gx + dy)) for gx, gy in e.view.points[1:-1]]
            routes[(e.v[0].data, e.v[1].data)] = middle
        width = max(width, max(xs) + NODE_W / 2 + dx + MARGIN)
        top = max(ys) + NODE_H / 2 + dy + COMPONENT_GAP
    height = top - COMPONENT_GAP + MARGIN if graph.nodes else 2 * MARGIN
    out_degree = Counter(link.source for link in graph.links)
    in_degree = Counter(link.target for link in graph.links)
    edges = []
    for link in graph.links:
        sx, sy, sw, sh = boxes[link.source]
        tx, ty, _, th = boxes[link.target]
        points = [(sx + sw, sy + sh / 2), *routes.get((link.source, link.target), []), (tx - 2, ty + th / 2)]
        d = [f"M{_n(points[0][0])},{_n(points[0][1])}"]
        for (px, py), (qx, qy) in pairwise(points):
            cx = (qx - px) / 2
            d.append(f"C{_n(px + cx)},{_n(py)} {_n(qx - cx)},{_n(qy)} {_n(qx)},{_n(qy)}")
        # Where many edges meet, labels at the meeting point would pile up: put each at its edge's far end.
        if in_degree[link.target] > out_degree[link.source]:
            label = [_r(points[0][0] + 6), _r(points[0][1] - 5), "start"]
        elif out_degree[link.source] > in_degree[link.target]:
            label = [_r(points[-1][0] - 8), _r(points[-1][1] - 5), "end"]
        else:
            (px, py), (qx, qy) = points[len(points) // 2 - 1], points[len(points) // 2]
            label = [_r((px + qx) / 2), _r((py + qy) / 2 - 5), "middle"]
        edges.append([link.source, link.target, "".join(d), label])
    return {
        "key": graph.digest,
        "w": _r(max(width, 2 * MARGIN)),
        "h": _r(height),
        "nodes": boxes,
        "groups": {n.key: list(n.members) for n in graph.nodes if n.is_group},
        "edges": edges,  # [source, target, SVG path, [label x, label y, text-anchor]]
    }


def _r(value: float) -> float:
    return round(value, 1)


def node_set_digest(structure: Structure) -> str:
    return hashlib.sha1("\n".join(sorted(structure.order)).encode()).hexdigest()[:20]


def cached_layout(run: PipelineRun, structure: Structure, graph: VisibleGraph, *, default: bool) -> dict:
    """The layout of ``graph``, computed at most once per run and shown graph and kept in run.graph_layout.

    Every kept layout is dropped when the run's set of steps changed (a backend that adds steps as they start).
    """
    nodes = node_set_digest(structure)
    stored = run.graph_layout if isinstance(run.graph_layout, dict) else {}
    if stored.get("version") != LAYOUT_VERSION or stored.get("nodes") != nodes:
        stored = {"version": LAYOUT_VERSION, "nodes": nodes, "default": "", "recent": [], "layouts": {}}
    layout = stored["layouts"].get(graph.digest)
    if layout is not None:
        return layout
    # Runs of one pipeline share their shape: a layout made for one serves the next from the cache.
    layout = cache.get(f"runboard:graph-layout:{graph.digest}")
    if layout is None:
        layout = compute_layout(graph)
        cache.set(f"runboard:graph-layout:{graph.digest}", layout, PLAN_SECONDS)
    layouts = dict(stored["layouts"])
    # Oldest first; a layout missing from "recent" (a row written by hand) counts as the oldest.
    recent = [k for k in layouts if k not in stored["recent"]] + [k for k in stored["recent"] if k in layouts]
    recent = [k for k in recent if k != graph.digest] + [graph.digest]
    layouts[graph.digest] = layout
    keep = graph.digest if default else stored["default"]
    for old in [k for k in recent if k not in (keep, graph.digest)][
        : max(0, len(layouts) - MAX_CACHED_LAYOUTS)
    ]:
        layouts.pop(old)
        recent.remove(old)
    stored = {**stored, "default": keep, "layouts": layouts, "recent": recent}
    # update(), not save(): the sync writes this row too, and must not see its fields overwritten.
    PipelineRun.objects.filter(pk=run.pk).update(graph_layout=stored)
    run.graph_layout = stored
    return layout


# --- drawing --------------------------------------------------------------------------------


class StepLinks:
    """URLs of the steps' log pages, made by one reverse() and string replacement: 1,000 reverses cost ~10 ms.

    ``files``: the backend offers steps' outputs and code snapshots for browsing, so they are links too.
    """

    def __init__(self, run_pk: int, *, files: bool = False) -> None:
        pattern = reverse("runs:step_log", args=[run_pk, "NODE", "LOG"])
        self._prefix, rest = pattern.split("NODE", 1)
        self._middle, self._suffix = rest.split("LOG", 1)
        self.files = files
        output = reverse("runs:step_output", args=[run_pk, "NODE", "OUTPUT"]).split("NODE", 1)[1]
        self._output_middle, self._output_suffix = output.split("OUTPUT", 1)
        self._snapshot_suffix = reverse("runs:step_snapshot", args=[run_pk, "NODE"]).split("NODE", 1)[1]

    def output(self, step: StepRow, name: str) -> str:
        node, output = quote(step.node_id, safe=""), quote(name, safe="")
        return f"{self._prefix}{node}{self._output_middle}{output}{self._output_suffix}"

    def snapshot(self, step: StepRow) -> str:
        return f"{self._prefix}{quote(step.node_id, safe='')}{self._snapshot_suffix}"

    def __call__(self, step: StepRow, log: str = "") -> str:
        return self.url(quote(step.node_id, safe=""), log or step.default_log)

    def url(self, quoted_node: str, log: str) -> str:
        return f"{self._prefix}{quoted_node}{self._middle}{quote(log, safe='/')}{self._suffix}"

    def logs(self, step: StepRow) -> list[tuple[str, str]]:
        """(name, URL) of each of the step's logs."""
        node = quote(step.node_id, safe="")
        return [(name, self.url(node, name)) for name in step.log_names]


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _name(step: StepRow | None, node: str) -> str:
    return (step.display_name if step else "") or node


def group_title(node: Node, steps: Mapping[str, StepRow]) -> str:
    """A pipeline component's node name, or a fan-out's first and last steps."""
    if is_nested(node.key, node.members):
        return node.key
    first, last = node.members[0], node.members[-1]
    return f"{_name(steps.get(first), first)} … {_name(steps.get(last), last)}"


def render_graph(
    layout: dict,
    graph: VisibleGraph,
    steps: Mapping[str, StepRow],
    step_url: Callable[[StepRow], str],
    expand_url: Callable[[str], str],
) -> SafeString:
    """The structure: boxes that link to steps (or expand groups), edges and their labels. No statuses."""
    w, h = layout["w"], layout["h"]
    boxes = layout["nodes"]
    labels = {(link.source, link.target): link for link in graph.links}
    parts = [
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="group" aria-label="Step graph">'
        '<defs><marker id="graph-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path class="graph-arrowhead" d="M0,0L10,5L0,10z"/></marker></defs>'
        '<g class="graph-edges">'
    ]
    label_parts = []
    for source, target, d, (x, y, anchor) in layout["edges"]:
        parts.append(f'<path class="graph-edge" d="{d}" marker-end="url(#graph-arrow)"/>')
        link = labels.get((source, target))
        if link is not None:
            label = link.label
            shown = _fit(label, 22)
            # The whole list of what the edge carries, where the label could not say it all.
            tip = f"<title>{escape(link.detail)}</title>" if len(link.pairs) > 1 or shown != label else ""
            label_parts.append(
                f'<text class="graph-edge-label" x="{x}" y="{y}" text-anchor="{anchor}">{tip}{escape(shown)}</text>'
            )
    parts.append('</g><g class="graph-edge-labels">')
    parts.extend(label_parts)
    parts.append('</g><g class="graph-nodes">')
    for node in graph.nodes:
        if node.key not in boxes:
            continue
        x, y, bw, bh = boxes[node.key]
        box = f'<rect class="graph-box" width="{bw}" height="{bh}" rx="6"/>'
        if node.is_group:
            title = group_title(node, steps)
            if is_nested(node.key, node.members):
                tip = f"Pipeline component {title}: {len(node.members)} steps. Open to show each."
            else:
                tip = f"{len(node.members)} steps with the same inputs and consumers: {title}. Open to show each."
            parts.append(
                f'<a class="graph-node graph-group" href="{escape(expand_url(node.key))}" '
                f'data-node="{escape(node.key)}" transform="translate({x},{y})"><title>{escape(tip)}</title>{box}'
                f'<text class="graph-name" x="10" y="18">{escape(_fit(title, 24))}</text></a>'
            )
            continue
        step = steps.get(node.key)
        name = _name(step, node.key)
        sub = ""
        if name != node.key:
            sub = f'<text class="graph-id" x="10" y="{bh - 10}">{escape(_fit(node.key, 13))}</text>'
        parts.append(
            f'<a class="graph-node" href="{step_url(step) if step else "#"}" data-node="{escape(node.key)}" '
            f'transform="translate({x},{y})"><title>{escape(name)} ({escape(node.key)}): open its log</title>'
            f'{box}<text class="graph-name" x="10" y="18">{escape(_fit(name, 22))}</text>{sub}</a>'
        )
    parts.append("</g></svg>")
    return mark_safe("".join(parts))  # every value above is escaped


def _n(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}"


# --- statuses: the live overlay -------------------------------------------------------------


def status_plan(run_pk: int, layout: dict, total: int) -> dict:
    """What the live-status endpoint needs to recolour a drawn graph, kept in the cache by layout key."""
    known = _recent_plans.get((run_pk, layout["key"]))
    if known is not None and known["total"] == total:
        return known
    groups = layout.get("groups", {})
    plan = {
        "key": layout["key"],
        "w": layout["w"],
        "h": layout["h"],
        "total": total,
        "nodes": [[key, groups.get(key), *box] for key, box in layout["nodes"].items()],
    }
    cache.set(_plan_key(run_pk, layout["key"]), plan, PLAN_SECONDS)
    _remember(run_pk, plan)
    return plan


# Polled every 2 s by every open run page: unpickling a 1,000-node plan from the cache each time costs more
# than the rest of the answer, so the plans in use stay in memory too.
_recent_plans: OrderedDict[tuple[int, str], dict] = OrderedDict()
RECENT_PLANS = 128


_recent_plans_lock = threading.Lock()


def _remember(run_pk: int, plan: dict) -> None:
    with _recent_plans_lock:
        _recent_plans[(run_pk, plan["key"])] = plan
        _recent_plans.move_to_end((run_pk, plan["key"]))
        while len(_recent_plans) > RECENT_PLANS:
            _recent_plans.popitem(last=False)


def cached_status_plan(run_pk: int, key: str) -> dict | None:
    """The plan from this process's memory, the cache or, failing those, the run's stored layouts."""
    plan = _recent_plans.get((run_pk, key))
    if plan is not None:
        return plan
    plan = cache.get(_plan_key(run_pk, key))
    if plan is not None:
        _remember(run_pk, plan)
        return plan
    stored = PipelineRun.objects.filter(pk=run_pk).values_list("graph_layout", flat=True).first()
    layout = (stored or {}).get("layouts", {}).get(key) if isinstance(stored, dict) else None
    if layout is None:
        return None
    total = StepRun.objects.filter(run_id=run_pk).count()
    return status_plan(run_pk, layout, total)


def _plan_key(run_pk: int, key: str) -> str:
    return f"runboard:graph-plan:{run_pk}:{key}"


# Which count a collapsed group shows first, and the words for it.
GROUP_FACTS = [("bad", "failed"), ("live", "running"), ("warn", "cancelling"), ("muted", "canceled")]
BAR_ORDER = ["ok", "bad", "live", "warn", "muted", "idle"]


def status_counts(members: Iterable[str], statuses: Mapping[str, str]) -> Counter:
    return Counter(CLASS_OF.get(statuses.get(m, RunStatus.NOT_STARTED), "idle") for m in members)


def group_summary(size: int, counts: Counter) -> tuple[str, str]:
    """("48 steps · 2 failed", css class) for a collapsed group."""
    for cls, word in GROUP_FACTS:
        if counts[cls]:
            return f"{size} steps · {counts[cls]} {word}", cls
    if counts["ok"] == size:
        return f"{size} steps · all completed", "ok"
    if counts["ok"]:
        return f"{size} steps · {counts['ok']} completed", "idle"
    return f"{size} steps · not started", "idle"


def status_digest(status_svg: str) -> str:
    """Names what the overlay shows, so a poll that would change nothing can be answered with no content."""
    return hashlib.blake2b(status_svg.encode(), digest_size=8).hexdigest()


def render_status(plan: dict, statuses: Mapping[str, str]) -> SafeString:
    """Status fills under the structure's transparent boxes, at the cached positions."""
    w, h = plan["w"], plan["h"]
    parts = [
        f'<svg class="graph-status-svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" aria-hidden="true">'
    ]
    for key, members, x, y, bw, bh in plan["nodes"]:
        if members is None:
            status = statuses.get(key, RunStatus.NOT_STARTED)
            parts.append(
                f'<g class="graph-st {CLASS_OF.get(status, "idle")}" data-node="{escape(key)}" '
                f'data-status="{_status(status)}" transform="translate({x},{y})">'
                f'<rect width="{bw}" height="{bh}" rx="6"/><text x="{bw - 8}" y="{bh - 10}">{_status(status)}</text></g>'
            )
            continue
        counts = status_counts(members, statuses)
        text, cls = group_summary(len(members), counts)
        parts.append(
            f'<g class="graph-st {cls}" data-node="{escape(key)}" data-status="{escape(text)}" '
            f'transform="translate({x},{y})">'
            # A stack of cards behind the box says "several steps"; drawn here, under the structure's text.
            f'<rect class="graph-stack" x="5" y="-5" width="{bw}" height="{bh}" rx="6"/>'
            f'<rect class="graph-stack" x="2.5" y="-2.5" width="{bw}" height="{bh}" rx="6"/>'
            f'<rect width="{bw}" height="{bh}" rx="6"/>'
            f'<text class="graph-st-group" x="10" y="{bh - 14}">{escape(text)}</text>'
        )
        bar_x, bar_w = 10.0, bw - 20
        for part in BAR_ORDER:
            if counts[part]:
                seg = bar_w * counts[part] / len(members)
                parts.append(
                    f'<rect class="graph-bar {part}" x="{bar_x:.1f}" y="{bh - 8}" '
                    f'width="{max(seg, 1):.1f}" height="3"/>'
                )
                bar_x += seg
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every value above is escaped


# --- timeline -------------------------------------------------------------------------------

TL_LABEL_W, TL_PLOT_W, TL_ROW_H, TL_BAR_H, TL_AXIS_H = 230, 900, 20, 12, 26
NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    return f"{secs}s"


def _span(
    members: Iterable[StepRow], now: datetime
) -> tuple[datetime | None, datetime | None, datetime | None]:
    """(queued, started, finished) of a step or a group: the first queue, the first start, the last end."""
    queued = started = finished = None
    for s in members:
        q = s.queued_at or s.started_at
        end = s.finished_at or (now if s.started_at and not s.is_terminal else None)
        if s.started_at is None and q is not None:  # still waiting, or stopped before it started
            end = s.finished_at or (None if s.is_terminal else now)
        queued = q if queued is None or (q and q < queued) else queued
        started = s.started_at if started is None or (s.started_at and s.started_at < started) else started
        finished = end if finished is None or (end and end > finished) else finished
    return queued, started, finished


def render_timeline(
    graph: VisibleGraph,
    steps: Mapping[str, StepRow],
    step_url: Callable[[StepRow], str],
    expand_url: Callable[[str], str],
    now: datetime,
) -> SafeString:
    """A Gantt chart: a row per shown node, queue time then run time, on a time axis from the first queue."""
    # Steps of one component share its display name ("Count primes in a shard"): label those by node id.
    shared = {n for n, count in Counter(_name(s, s.node_id) for s in steps.values()).items() if count > 1}
    rows = []
    for node in graph.nodes:
        members = [steps[m] for m in node.members if m in steps]
        if members:
            rows.append((node, members, *_span(members, now)))
    times = [t for _, _, q, s, f in rows for t in (q, s, f) if t is not None]
    if not times:
        return mark_safe('<p class="timeline-empty sub">No step has been queued yet.</p>')
    t0, t1 = min(times), max(times)
    total = max((t1 - t0).total_seconds(), 1.0)
    step = next((s for s in NICE_STEPS if total / s <= 8), NICE_STEPS[-1])
    scale = TL_PLOT_W / total
    width = TL_LABEL_W + TL_PLOT_W + 40
    height = TL_AXIS_H + len(rows) * TL_ROW_H + 8

    def x_of(t: datetime) -> float:
        return TL_LABEL_W + (t - t0).total_seconds() * scale

    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="group" aria-label="Timeline of the steps">'
        '<g class="timeline-axis">'
    ]
    tick = 0
    while tick <= total + 1e-6:
        x = TL_LABEL_W + tick * scale
        parts.append(
            f'<line x1="{_n(x)}" y1="{TL_AXIS_H - 6}" x2="{_n(x)}" y2="{height}"/>'
            f'<text x="{_n(x)}" y="{TL_AXIS_H - 10}" text-anchor="middle">{_clock(tick)}</text>'
        )
        tick += step
    parts.append("</g>")
    bar_y = (TL_ROW_H - TL_BAR_H) // 2
    for i, (node, members, queued, started, finished) in enumerate(rows):
        y = TL_AXIS_H + i * TL_ROW_H
        if node.is_group:
            name = f"{group_title(node, steps)} ({len(node.members)})"
            counts = status_counts(node.members, {m.node_id: m.status for m in members})
            summary, cls = group_summary(len(node.members), counts)
            href, status = expand_url(node.key), summary
        else:
            step = members[0]
            name, cls, href, status = (
                node.key if _name(step, node.key) in shared else _name(step, node.key),
                CLASS_OF.get(step.status, "idle"),
                step_url(step),
                step.status,
            )
        tip, bars = [f"{name}: {status}"], []
        if queued and (started or finished):
            end = started or finished
            tip.append(f"waited {_clock((end - queued).total_seconds())}")
            bars.append(
                f'<rect class="timeline-queue" x="{x_of(queued):.1f}" y="{bar_y}" '
                f'width="{max(x_of(end) - x_of(queued), 1):.1f}" height="{TL_BAR_H}"/>'
            )
        if started:
            end = finished or now
            tip.append(f"ran {_clock((end - started).total_seconds())}")
            bars.append(
                f'<rect class="timeline-run {cls}" x="{x_of(started):.1f}" y="{bar_y}" '
                f'width="{max(x_of(end) - x_of(started), 2):.1f}" height="{TL_BAR_H}"/>'
            )
        parts.append(
            f'<g class="timeline-row" data-node="{escape(node.key)}" transform="translate(0,{y})">'
            f"<title>{escape(', '.join(tip))}</title>"
            f'<a href="{escape(href)}"><text class="timeline-label" x="{TL_LABEL_W - 8}" y="14" '
            f'text-anchor="end">{escape(_fit(name, 34))}</text></a>{"".join(bars)}</g>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every value above is escaped


# --- outline --------------------------------------------------------------------------------


def input_sources(structure: Structure) -> dict[str, dict[str, list[str]]]:
    """{step: {input: ["source.output", ...]}}: where each step's inputs come from."""
    sources: dict[str, dict[str, list[str]]] = {}
    for source, output, target, input_ in structure.edges:
        sources.setdefault(target, {}).setdefault(input_, []).append(f"{source}.{output}")
    return sources


def render_outline(structure: Structure, steps: Mapping[str, StepRow], step_url: StepLinks) -> SafeString:
    """The rows of the steps table: every step by dependency depth, its status, logs and a details fold."""
    sources = input_sources(structure)
    zone = timezone.get_current_timezone()  # the viewer's, from their cookie
    names: dict[str, str] = {}  # input, output and log names repeat from step to step: escape each once

    def name_of(text: str) -> str:
        escaped = names.get(text)
        if escaped is None:
            escaped = names[text] = escape(text)
        return escaped

    rows = []
    for node, depth in structure.outline:
        step = steps[node]
        e_node = escape(node)
        alias = ""
        if step.display_name and step.display_name != node:
            alias = f' <span class="sub mono">{e_node}</span>'
        error = ""
        if step.error:
            cls = "sub error" if step.status == RunStatus.FAILED else "sub"
            error = f'<div class="{cls}">{escape(step.error)}</div>'
        wired = sources.get(node, {})
        facts = ["<dt>Inputs</dt><dd>"]
        for input_name in dict.fromkeys([*step.inputs, *wired]):
            value = step.inputs.get(input_name)
            facts.append(f'<div><span class="mono">{name_of(input_name)}</span>')
            if value is not None:
                facts.append(f' = <span class="mono">{escape(str(value))}</span>')
            if input_name in wired:
                facts.append(f' <span class="sub">from {escape(", ".join(wired[input_name]))}</span>')
            facts.append("</div>")
        if len(facts) == 1:
            facts.append('<span class="sub">none</span>')
        facts.append("</dd><dt>Outputs</dt><dd>")
        for output, location in step.outputs.items():
            shown = name_of(output)
            if step_url.files:
                shown = f'<a href="{step_url.output(step, output)}">{shown}</a>'
            facts.append(
                f'<div><span class="mono">{shown}</span> '
                f'<span class="mono outline-location">{escape(str(location))}</span></div>'
            )
        if not step.outputs:
            facts.append(
                '<span class="sub">none</span>'
                if step.started_at
                else '<span class="sub">known once it starts</span>'
            )
        facts.append("</dd>")
        if step.command:
            facts.append(
                f'<dt>Command</dt><dd><pre class="outline-command">{escape(step.command)}</pre></dd>'
            )
        if step.snapshot:
            digest = escape(step.snapshot[:12])
            snapshot = (
                f'<a href="{step_url.snapshot(step)}" title="{escape(step.snapshot)}">{digest}</a>'
                if step_url.files
                else digest
            )
            facts.append(f'<dt>Code snapshot</dt><dd class="mono">{snapshot}</dd>')
        if step.environment:
            facts.append(f'<dt>Environment</dt><dd class="mono">{escape(step.environment)}</dd>')
        if step.compute:
            facts.append(f'<dt>Compute</dt><dd class="mono">{escape(step.compute)}</dd>')
        studio = (
            f' · <a href="{escape(step.external_url)}" rel="noopener" target="_blank">open in Azure ML Studio</a>'
            if step.external_url
            else ""
        )
        facts.append(
            f'<dt>Step run</dt><dd><span class="mono">{escape(step.external_id)}</span>{studio}</dd>'
        )
        reuse = "—"
        if step.is_reused:
            reuse = (
                f'<span class="badge idle" title="step {escape(step.reused_step_id)}">reused</span> '
                f'<span class="sub mono">from {escape(step.reused_run_id)}</span>'
            )
        # URLs are made of percent-quoted parts: nothing in them needs escaping.
        log_links = step_url.logs(step)
        logs = " · ".join(f'<a href="{url}">{name_of(n)}</a>' for n, url in log_links)
        href = log_links[0][1] if log_links else step_url(step)
        started = step.started_at.astimezone(zone).strftime("%H:%M:%S") if step.started_at else "—"
        rows.append(
            f'<tr id="step-{e_node}" class="step">'
            f'<td><span class="badge {CLASS_OF.get(step.status, "idle")}">{_status(step.status)}</span></td>'
            f'<td class="outline-name outline-d{min(depth, 10)}" data-depth="{depth}">'
            f'<a href="{href}">{escape(step.display_name or node)}</a>{alias}{error}'
            f'<details class="outline-details" id="details-{e_node}"><summary>Inputs and outputs</summary>'
            f'<dl class="outline-io">{"".join(facts)}</dl></details></td>'
            f"<td>{started}</td>"
            f'<td class="num">{duration(step.duration)}</td>'
            f"<td>{'—' if step.exit_code is None else step.exit_code}</td><td>{reuse}</td>"
            f'<td class="outline-logs">{logs}</td></tr>'
        )
    return mark_safe("".join(rows))  # every value above is escaped
