"""The run's timeline: a Gantt chart of the shown nodes, queue time then run time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from django.utils.safestring import SafeString, mark_safe

from runs.graph.layout import fit_text, svg_number
from runs.graph.status import CLASS_OF, group_summary, status_counts
from runs.graph.svg import group_title, step_name
from runs.graph.view import VisibleGraph

if TYPE_CHECKING:
    from runs.graph.steps import StepRow


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
    shared = {n for n, count in Counter(step_name(s, s.node_id) for s in steps.values()).items() if count > 1}
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
            f'<line x1="{svg_number(x)}" y1="{TL_AXIS_H - 6}" x2="{svg_number(x)}" y2="{height}"/>'
            f'<text x="{svg_number(x)}" y="{TL_AXIS_H - 10}" text-anchor="middle">{_clock(tick)}</text>'
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
                node.key if step_name(step, node.key) in shared else step_name(step, node.key),
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
            f'text-anchor="end">{escape(fit_text(name, 34))}</text></a>{"".join(bars)}</g>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every value above is escaped
