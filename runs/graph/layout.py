"""A shown graph's layered layout (grandalf's Sugiyama), left to right: boxes, edge paths and label places.

Pure: a layout is a function of the shown graph alone; runs.graph.stored keeps it on the run and in the cache.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runs.graph.view import Link, VisibleGraph


# Geometry, in SVG user units (pixels at natural size). Left to right: a fan-out is a column, not a row.
NODE_W, NODE_H = 180, 44
LAYER_GAP = 130  # between columns; edge labels live here
NODE_GAP = 14  # between nodes of a column
DUMMY_SPAN = 12  # room a long edge takes where it crosses a column
COMPONENT_GAP = 28
MARGIN = 16
LAYOUT_VERSION = 3
# Text sizes the layout makes room for; static/runboard.css draws node ids and edge labels in a monospace font
# of these sizes, so their widths are known here (0.6 em a character, and a little over).
NODE_PAD = 10  # from a box's left edge to its text
ID_CHAR_W = 12 * 0.62  # a node id as a box's main line (12 px, bold)
SUB_CHAR_W = 10 * 0.62  # a node id on a box's second line (10 px)
STATUS_ROOM = 92  # a box's second line ends where its status ("CancelRequested") may begin
LABEL_CHARS = 18  # an edge label is cut to this many characters (its tooltip says it all)
LABEL_CHAR_W = 10 * 0.62
LABEL_PAD, LABEL_H = 3, 14
LABEL_GAP = 3  # between a label and its edge's line
LABEL_END = 10  # from the end of a line (its arrowhead or its box) to the label


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

    node_w = node_width(graph)
    rank = {n.key: i for i, n in enumerate(graph.nodes)}
    vertices = {n.key: Vertex(n.key) for n in graph.nodes}
    for v in vertices.values():
        v.view = _Box(NODE_H, node_w)
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
        sugiyama.dw, sugiyama.dh = DUMMY_SPAN, node_w
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
        left = min(xs) - node_w / 2
        upper = min(ys) - NODE_H / 2
        dx, dy = MARGIN - left, top - upper
        for key, (cx, cy) in centres.items():
            boxes[key] = [_r(cx - node_w / 2 + dx), _r(cy - NODE_H / 2 + dy), node_w, NODE_H]
        for e in component.sE:
            middle = [(_r(gy + dx), _r(gx + dy)) for gx, gy in e.view.points[1:-1]]
            routes[(e.v[0].data, e.v[1].data)] = middle
        width = max(width, max(xs) + node_w / 2 + dx + MARGIN)
        top = max(ys) + NODE_H / 2 + dy + COMPONENT_GAP
    height = top - COMPONENT_GAP + MARGIN if graph.nodes else 2 * MARGIN
    lines = []
    for link in graph.links:
        sx, sy, sw, sh = boxes[link.source]
        tx, ty, _, th = boxes[link.target]
        lines.append(
            [(sx + sw, sy + sh / 2), *routes.get((link.source, link.target), []), (tx - 2, ty + th / 2)]
        )
    labels = place_labels(graph.links, lines)
    # A label moved clear of others may stand above the first box or below the last: make room for it.
    shift = max(0.0, MARGIN / 2 - min((y for _, y, _, _ in labels), default=0.0))
    if shift:
        for box in boxes.values():
            box[1] = _r(box[1] + shift)
        lines = [[(x, y + shift) for x, y in points] for points in lines]
        labels = [[x, _r(y + shift), w, h] for x, y, w, h in labels]
    height = max(height + shift, max((y + h + MARGIN / 2 for _, y, _, h in labels), default=0.0))
    edges = []
    for link, points, label in zip(graph.links, lines, labels, strict=True):
        d = [f"M{svg_number(points[0][0])},{svg_number(points[0][1])}"]
        for (px, py), (qx, qy) in pairwise(points):
            cx = (qx - px) / 2
            d.append(
                f"C{svg_number(px + cx)},{svg_number(py)} {svg_number(qx - cx)},{svg_number(qy)} "
                f"{svg_number(qx)},{svg_number(qy)}"
            )
        edges.append([link.source, link.target, "".join(d), label])
    return {
        "key": graph.digest,
        "w": _r(max(width, 2 * MARGIN)),
        "h": _r(height),
        "nodes": boxes,
        "groups": {n.key: list(n.members) for n in graph.nodes if n.is_group},
        "edges": edges,  # [source, target, SVG path, label box [x, y, w, h]]
    }


def _r(value: float) -> float:
    return round(value, 1)


def svg_number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def fit_text(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def node_width(graph: VisibleGraph) -> float:
    """Every box of a graph is as wide as its longest node id needs, at least NODE_W: an id is never cut."""
    longest = max((len(n.key) for n in graph.nodes), default=0)
    return max(NODE_W, math.ceil(longest * ID_CHAR_W + 2 * NODE_PAD))


def id_fits_beside_status(node_id: str, box_width: float) -> bool:
    """Whether a node id fits a box's second line, left of where its status is written."""
    return NODE_PAD + len(node_id) * SUB_CHAR_W + 6 <= box_width - STATUS_ROOM


def edge_label(link: Link) -> str:
    return fit_text(link.label, LABEL_CHARS)


def label_size(text: str) -> tuple[float, float]:
    return _r(len(text) * LABEL_CHAR_W + 2 * LABEL_PAD), LABEL_H


Box = list[float]  # x, y, w, h


def place_labels(links: Sequence[Link], routes: Sequence[list[tuple[float, float]]]) -> list[Box]:
    """A box for each link's label, beside its line rather than on it, near one end, clear of the other labels.

    Near the target, where the line comes in level with the target's middle; but where several lines meet at
    a target that has more inputs than the source has outputs (a fan-in), near the source, so the labels do not
    pile up where the lines meet. A label sits on the side of its line away from where the line bends to, so
    the line does not cross it; labels that would overlap another are moved further from their line.
    """
    out_degree = Counter(link.source for link in links)
    in_degree = Counter(link.target for link in links)
    wanted = []
    for i, (link, points) in enumerate(zip(links, routes, strict=True)):
        w, h = label_size(edge_label(link))
        (x0, y0), (x1, y1) = points[0], points[-1]
        if in_degree[link.target] > out_degree[link.source]:
            # Leaving the source level, the line bends towards the next point: the label takes the other side.
            x, y_line = x0 + LABEL_END - 4, y0
            below = points[1][1] < y0
        else:
            # Coming in level, the line arrives from the previous point's side: the label takes the other side.
            x, y_line = x1 - LABEL_END - w, y1
            below = points[-2][1] < y1
        y = y_line + LABEL_GAP if below else y_line - LABEL_GAP - h
        wanted.append((i, [x, y, w, h], below))
    # In reading order; each label that would overlap one already placed moves away from its line past it.
    # Placed labels are found through a grid of cells, so a graph of thousands of edges costs no more per label.
    grid: dict[tuple[int, int], list[Box]] = {}
    boxes: list[Box] = [[]] * len(links)
    for i, box, below in sorted(wanted, key=lambda item: (item[1][0], item[1][1])):
        for _ in range(len(wanted)):
            clash = next((other for other in _near(grid, box) if _overlap(box, other)), None)
            if clash is None:
                break
            box[1] = clash[1] + clash[3] + 2 if below else clash[1] - box[3] - 2
        box = [_r(v) for v in box]
        for cell in _cells(box):
            grid.setdefault(cell, []).append(box)
        boxes[i] = box
    return boxes


GRID = 64  # px: a cell of the grid that finds labels near a place


def _cells(box: Box) -> list[tuple[int, int]]:
    x, y, w, h = box
    return [
        (cx, cy)
        for cx in range(int(x // GRID), int((x + w) // GRID) + 1)
        for cy in range(int(y // GRID), int((y + h) // GRID) + 1)
    ]


def _near(grid: dict[tuple[int, int], list[Box]], box: Box) -> list[Box]:
    return [other for cell in _cells(box) for other in grid.get(cell, ())]


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
