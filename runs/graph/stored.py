"""Layouts and status plans kept for reuse: on the run's row, in the cache and in this process's memory.

The only modules of the graph that read the database are this one and runs.graph.steps.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from django.core.cache import cache

from runs.graph.layout import LAYOUT_VERSION, compute_layout
from runs.graph.structure import Structure
from runs.graph.view import VisibleGraph
from runs.models import PipelineRun, StepRun

MAX_CACHED_LAYOUTS = 4  # per run: the default view's and the most recent others (expanded, failed path)
PLAN_SECONDS = 24 * 3600


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
