"""The graph's structure as SVG: boxes that link to steps (or open groups), edges and their labels.

The SVG is written as strings, not by a template loop: at 1,000 steps a template costs tens of milliseconds
where string building costs one or two. Statuses are drawn apart (runs.graph.status), as an overlay at the
cached positions, so a live update never lays the graph out again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from runs.graph.layout import (
    LABEL_H,
    LABEL_PAD,
    NODE_PAD,
    STATUS_ROOM,
    edge_label,
    fit_text,
    id_fits_beside_status,
    svg_number,
)
from runs.graph.view import Node, VisibleGraph, is_nested

if TYPE_CHECKING:
    from runs.graph.steps import StepRow


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
        self._logs_suffix = reverse("runs:step_logs", args=[run_pk, "NODE"]).split("NODE", 1)[1]

    def output(self, step: StepRow, name: str) -> str:
        node, output = quote(step.node_id, safe=""), quote(name, safe="")
        return f"{self._prefix}{node}{self._output_middle}{output}{self._output_suffix}"

    def log_page(self, step: StepRow) -> str:
        """The step's logs: the server opens the one worth reading (for a failed step, the one with its error)."""
        return f"{self._prefix}{quote(step.node_id, safe='')}{self._logs_suffix}"

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


def step_name(step: StepRow | None, node: str) -> str:
    return (step.display_name if step else "") or node


def group_title(node: Node, steps: Mapping[str, StepRow]) -> str:
    """A pipeline component's node name, or a fan-out's first and last steps."""
    if is_nested(node.key, node.members):
        return node.key
    first, last = node.members[0], node.members[-1]
    return f"{step_name(steps.get(first), first)} … {step_name(steps.get(last), last)}"


def node_lines(node_id: str, name: str, *, name_is_shared: bool, box_width: float) -> tuple[str, str, bool]:
    """(main line, second line, whether the main line is the node id) of a step's box.

    The node id is always shown whole: on the main line where the display name does not tell the step apart
    (steps of one component share it: "Count primes in a shard") or where the id is too long for the second
    line; else the display name leads and the id follows it.
    """
    if name == node_id:
        return node_id, "", True
    if name_is_shared or not id_fits_beside_status(node_id, box_width):
        room = int((box_width - NODE_PAD - STATUS_ROOM - 6) / 5.6)  # 10 px text, ~5.6 px a character
        return node_id, fit_text(name, max(room, 4)), True
    return fit_text(name, int((box_width - 2 * NODE_PAD) / 7.2)), node_id, False


def render_graph(
    layout: dict,
    graph: VisibleGraph,
    steps: Mapping[str, StepRow],
    step_url: Callable[[StepRow], str],
    expand_url: Callable[[str], str],
) -> SafeString:
    """The structure: boxes that link to steps (or expand groups), edges and their labels. No statuses.

    ``step_url`` is where a step's box leads: its log, the one that holds its error when it failed.
    """
    w, h = layout["w"], layout["h"]
    boxes = layout["nodes"]
    labels = {(link.source, link.target): link for link in graph.links}
    shared = {n for n, count in Counter(step_name(s, s.node_id) for s in steps.values()).items() if count > 1}
    parts = [
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="group" aria-label="Step graph">'
        '<defs><marker id="graph-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path class="graph-arrowhead" d="M0,0L10,5L0,10z"/></marker></defs>'
        '<g class="graph-edges">'
    ]
    label_parts = []
    for source, target, d, (x, y, lw, lh) in layout["edges"]:
        parts.append(f'<path class="graph-edge" d="{d}" marker-end="url(#graph-arrow)"/>')
        link = labels.get((source, target))
        if link is not None:
            label = link.label
            shown = edge_label(link)
            # The whole list of what the edge carries, where the label could not say it all.
            tip = f"<title>{escape(link.detail)}</title>" if len(link.pairs) > 1 or shown != label else ""
            label_parts.append(
                f'<g class="graph-edge-label" data-edge="{escape(source)} {escape(target)}">{tip}'
                f'<rect x="{x}" y="{y}" width="{lw}" height="{lh}" rx="3"/>'
                f'<text x="{svg_number(x + LABEL_PAD)}" y="{svg_number(y + LABEL_H - 4)}">{escape(shown)}</text></g>'
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
                shown = title  # the component's node id: whole, as every id
            else:
                tip = f"{len(node.members)} steps with the same inputs and consumers: {title}. Open to show each."
                shown = fit_text(title, int((bw - 2 * NODE_PAD) / 7.2))
            parts.append(
                f'<a class="graph-node graph-group" href="{escape(expand_url(node.key))}" '
                f'data-node="{escape(node.key)}" transform="translate({x},{y})"><title>{escape(tip)}</title>{box}'
                f'<text class="graph-name" x="{NODE_PAD}" y="18">{escape(shown)}</text></a>'
            )
            continue
        step = steps.get(node.key)
        name = step_name(step, node.key)
        main, second, main_is_id = node_lines(node.key, name, name_is_shared=name in shared, box_width=bw)
        main_class = "graph-name graph-name-id" if main_is_id else "graph-name"
        second_class = "graph-sub" if main_is_id else "graph-id"
        sub = (
            f'<text class="{second_class}" x="{NODE_PAD}" y="{bh - 10}">{escape(second)}</text>'
            if second
            else ""
        )
        parts.append(
            f'<a class="graph-node" href="{step_url(step) if step else "#"}" data-node="{escape(node.key)}" '
            f'transform="translate({x},{y})"><title>{escape(name)} ({escape(node.key)}): open its log</title>'
            f'{box}<text class="{main_class}" x="{NODE_PAD}" y="18">{escape(main)}</text>{sub}</a>'
        )
    parts.append("</g></svg>")
    return mark_safe("".join(parts))  # every value above is escaped
