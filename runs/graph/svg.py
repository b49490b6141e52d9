"""The graph's structure as SVG: boxes that link to steps (or open groups), edges and their labels.

The SVG is written as strings, not by a template loop: at 1,000 steps a template costs tens of milliseconds
where string building costs one or two. Statuses are drawn apart (runs.graph.status), as an overlay at the
cached positions, so a live update never lays the graph out again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

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


def fit_text(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def step_name(step: StepRow | None, node: str) -> str:
    return (step.display_name if step else "") or node


def group_title(node: Node, steps: Mapping[str, StepRow]) -> str:
    """A pipeline component's node name, or a fan-out's first and last steps."""
    if is_nested(node.key, node.members):
        return node.key
    first, last = node.members[0], node.members[-1]
    return f"{step_name(steps.get(first), first)} … {step_name(steps.get(last), last)}"


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
            shown = fit_text(label, 22)
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
                f'<text class="graph-name" x="10" y="18">{escape(fit_text(title, 24))}</text></a>'
            )
            continue
        step = steps.get(node.key)
        name = step_name(step, node.key)
        sub = ""
        if name != node.key:
            sub = f'<text class="graph-id" x="10" y="{bh - 10}">{escape(fit_text(node.key, 13))}</text>'
        parts.append(
            f'<a class="graph-node" href="{step_url(step) if step else "#"}" data-node="{escape(node.key)}" '
            f'transform="translate({x},{y})"><title>{escape(name)} ({escape(node.key)}): open its log</title>'
            f'{box}<text class="graph-name" x="10" y="18">{escape(fit_text(name, 22))}</text>{sub}</a>'
        )
    parts.append("</g></svg>")
    return mark_safe("".join(parts))  # every value above is escaped
