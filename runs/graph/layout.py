"""A shown graph's layered layout (grandalf's Sugiyama), left to right: boxes, edge paths and label places.

Pure: a layout is a function of the shown graph alone; runs.graph.stored keeps it on the run and in the cache.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runs.graph.view import VisibleGraph


# Geometry, in SVG user units (pixels at natural size). Left to right: a fan-out is a column, not a row.
NODE_W, NODE_H = 180, 44
LAYER_GAP = 130  # between columns; edge labels live here
NODE_GAP = 14  # between nodes of a column
DUMMY_SPAN = 12  # room a long edge takes where it crosses a column
COMPONENT_GAP = 28
MARGIN = 16
LAYOUT_VERSION = 2


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
        d = [f"M{svg_number(points[0][0])},{svg_number(points[0][1])}"]
        for (px, py), (qx, qy) in pairwise(points):
            cx = (qx - px) / 2
            d.append(
                f"C{svg_number(px + cx)},{svg_number(py)} {svg_number(qx - cx)},{svg_number(qy)} {svg_number(qx)},{svg_number(qy)}"
            )
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


def svg_number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}"
