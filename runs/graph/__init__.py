"""A run's step graph: its structure, collapsed groups, the failed path, a cached layered layout, and SVG.

The structure (steps and the edges between them) comes from the mirror. The layout is grandalf's Sugiyama
(layered) layout, computed once per shown graph and kept in ``PipelineRun.graph_layout``. Statuses are drawn
apart from the structure, as an overlay at the cached positions, so a live update never lays the graph out again.

One module per concern, in the order a page uses them: ``steps`` (loading the rows), ``structure``, ``view``
(what is shown), ``layout``, ``stored`` (layouts and status plans kept on the run and in the cache), ``svg``,
``status`` (the live overlay), ``timeline`` and ``outline``. Only ``steps`` and ``stored`` read the database or
the cache; the others are pure functions of their arguments.
"""

from runs.graph.layout import LAYOUT_VERSION, compute_layout
from runs.graph.outline import input_sources, render_outline
from runs.graph.status import CLASS_OF, group_summary, render_status, status_counts, status_digest
from runs.graph.steps import StepRow, load_steps
from runs.graph.stored import (
    MAX_CACHED_LAYOUTS,
    PLAN_SECONDS,
    cached_layout,
    cached_status_plan,
    node_set_digest,
    status_plan,
)
from runs.graph.structure import COLLAPSE_FROM, FAILED, MIN_GROUP, NESTED, Edge, Structure
from runs.graph.svg import StepLinks, group_title, render_graph
from runs.graph.timeline import render_timeline
from runs.graph.view import GraphView, Link, Node, VisibleGraph, is_nested, visible_graph

__all__ = [
    "CLASS_OF",
    "COLLAPSE_FROM",
    "FAILED",
    "LAYOUT_VERSION",
    "MAX_CACHED_LAYOUTS",
    "MIN_GROUP",
    "NESTED",
    "PLAN_SECONDS",
    "Edge",
    "GraphView",
    "Link",
    "Node",
    "StepLinks",
    "StepRow",
    "Structure",
    "VisibleGraph",
    "cached_layout",
    "cached_status_plan",
    "compute_layout",
    "group_summary",
    "group_title",
    "input_sources",
    "is_nested",
    "load_steps",
    "node_set_digest",
    "render_graph",
    "render_outline",
    "render_status",
    "render_timeline",
    "status_counts",
    "status_digest",
    "status_plan",
    "visible_graph",
]
