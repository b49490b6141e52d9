"""A run's page and the actions on it.

They read the mirror; only downloading the definition reaches a backend. Actions are requested here and
carried out by tasks. The step graph's structure and its statuses are separate responses (runs/graph/).
"""

from __future__ import annotations

import hashlib
import re

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from backends.base import BackendErrorBase, RunStatus
from backends.registry import get_backend
from dashboard import roles
from dashboard.actions import read_again
from dashboard.models import Action
from runs import graph
from runs.actions import run_cancel, run_publish, run_resubmit
from runs.forms import PublishForm, ReasonForm
from runs.models import PipelineRun, StepRun
from runs.pages import get_run, stop_polling

PAGE_SIZE = 50
LOG_TAIL_BYTES = 256 * 1024
LOG_POLL_BYTES = 256 * 1024


# --- one run --------------------------------------------------------------------------------


def _run_context(request: HttpRequest, run: PipelineRun, **extra) -> dict:
    actions = list(
        Action.objects.filter(target_type="run", backend=run.backend, target_id=run.external_id)
        .select_related("requested_by")
        .order_by("-requested_at", "-id")[:10]
    )
    run.pending_action = next((a for a in actions if not a.is_finished), None)
    read_again([run])  # read before its actions: see attach_unfinished
    user = request.user
    backend = get_backend(run.backend)
    # The live region polls the page it is on, with its graph view (?expand=, ?view=), never an action's URL,
    # and says what it has seen, so an unchanged run costs a 204 and not a redraw of every step.
    params = request.GET.copy() if request.method == "GET" else QueryDict(mutable=True)
    params["seen"] = _live_digest(run, actions)
    return {
        "run": run,
        "live_url": f"{run.get_absolute_url()}?{params.urlencode()}",
        "actions": actions,
        "actions_pending": any(not a.is_finished for a in actions),
        "can_cancel": user.has_perm(roles.CANCEL) and run.can_be_cancelled and backend.supports("cancel_run"),
        "can_resubmit": user.has_perm(roles.RESUBMIT)
        and run.can_be_resubmitted
        and backend.supports("resubmit_run"),
        "can_publish": user.has_perm(roles.PUBLISH) and backend.supports("publish_pipeline"),
        **extra,
    }


def _live_digest(run: PipelineRun, actions: list[Action]) -> str:
    # The backend moves updated_at on every change to the run or one of its steps.
    state = [run.status, run.backend_updated_at.isoformat() if run.backend_updated_at else ""]
    state += [f"{a.pk}:{a.status}" for a in actions]
    return hashlib.sha1("|".join(state).encode()).hexdigest()[:16]


def _steps_context(request: HttpRequest, run: PipelineRun) -> dict:
    """The steps in outline order with their details, the shown graph and the timeline: the live part below."""
    steps = graph.load_steps(run.pk)
    edges = list(run.edges.values_list("source_node", "source_output", "target_node", "target_input"))
    structure = graph.Structure.build((s.node_id for s in steps), edges)
    view = graph.GraphView.from_query(request.GET)
    by_id = {s.node_id: s for s in steps}
    statuses = {s.node_id: s.status for s in steps}
    shown = graph.visible_graph(structure, view, statuses)
    step_url = graph.StepLinks(run.pk, files=get_backend(run.backend).supports("list_files"))
    base = run.get_absolute_url()

    def expand_url(key: str) -> str:
        return f"{base}{view.expanding(key)}#graph"

    failed = sum(1 for s in steps if s.status in graph.FAILED)
    return {
        "steps": steps,
        "outline_rows": graph.render_outline(structure, by_id, step_url),
        "edges": edges,
        "structure": structure,
        "graph_view": view,
        "shown": shown,
        "by_id": by_id,
        "statuses": statuses,
        "step_url": step_url,
        "expand_url": expand_url,
        "failed_count": failed,
        "timeline": graph.render_timeline(shown, by_id, step_url, expand_url, timezone.now()),
    }


def _graph_context(run: PipelineRun, steps: dict) -> dict:
    """The structure SVG (from the cached layout) and the first status overlay, for the whole page."""
    structure, view, shown = steps["structure"], steps["graph_view"], steps["shown"]
    layout = graph.cached_layout(run, structure, shown, default=view.is_default)
    plan = graph.status_plan(run.pk, layout, len(structure.order))
    status_svg = graph.render_status(plan, steps["statuses"])
    base = run.get_absolute_url()
    groups = structure.groups
    return {
        "graph_svg": graph.render_graph(
            layout, shown, steps["by_id"], steps["step_url"].log_page, steps["expand_url"]
        ),
        "status_svg": status_svg,
        "seen": graph.status_digest(status_svg),
        "layout_key": layout["key"],
        "graph_polling": not run.is_terminal,
        "graph_links": {
            "all": base + view.query(failed_only=False) + "#graph",
            "failed": base + view.query(failed_only=True) + "#graph",
            "expand_all": base + view.query(expand_all=True, expanded=frozenset()) + "#graph",
            "collapse": base + view.query(expand_all=False, expanded=frozenset()) + "#graph",
        },
        "group_count": len(groups),
        "is_expanded": bool(groups) and (view.expand_all or bool(view.expanded & groups.keys())),
    }


def _page_context(request: HttpRequest, run: PipelineRun, **extra) -> dict:
    context = _run_context(request, run)
    steps = _steps_context(request, run)
    context.update(steps)
    context.update(_graph_context(run, steps))
    context.update(
        published=list(run.published_as.all()),
        publish_form=PublishForm(initial={"name": run.pipeline_name or run.display_name}),
        show_data_flow=len(steps["edges"]) <= graph.COLLAPSE_FROM,
    )
    context.update(extra)
    return context


@require_GET
@roles.require(roles.READ)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if request.htmx and request.htmx.target == "run-live":
        # The live region and, out of band, the steps and timeline; the graph has its own endpoint.
        run = get_object_or_404(
            PipelineRun.objects.select_related("pipeline", "published_pipeline").defer("graph_layout"), pk=pk
        )
        context = _run_context(request, run)
        done = run.is_terminal and not context["actions_pending"]
        if not done and request.GET.get("seen") == _live_digest(run, context["actions"]):
            return HttpResponse(status=204)  # nothing changed: htmx swaps nothing and keeps polling
        context.update(_steps_context(request, run))
        response = render(request, "runs/run_detail.html#live-update", context)
        # A terminal run with no action under way does not change any more.
        return stop_polling(response) if run.is_terminal and not context["actions_pending"] else response
    run = get_run(pk)
    return render(request, "runs/run_detail.html", _page_context(request, run))


@require_GET
@roles.require(roles.READ)
def run_graph_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The graph's statuses only, drawn at the cached positions of ?layout=: one query for the steps."""
    key = request.GET.get("layout", "")
    rows = list(StepRun.objects.filter(run_id=pk).order_by().values_list("node_id", "status", "run__status"))
    if rows:
        run_status = rows[0][2]
    else:
        run_status = PipelineRun.objects.filter(pk=pk).values_list("status", flat=True).first()
        if run_status is None:
            raise Http404("No such run.")
    plan = graph.cached_status_plan(pk, key) if re.fullmatch(r"[0-9a-f]{1,40}", key) else None
    if plan is None or plan["total"] != len(rows):
        # The steps changed since the page was drawn (or the layout is gone): draw the page again.
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    terminal = RunStatus.is_terminal(run_status)
    status_svg = graph.render_status(plan, {node: status for node, status, _ in rows})
    seen = graph.status_digest(status_svg)
    if not terminal and request.GET.get("seen") == seen:
        return HttpResponse(status=204)  # nothing to redraw; htmx swaps nothing and keeps polling
    context = {
        "run_pk": pk,
        "layout_key": key,
        "status_svg": status_svg,
        "seen": seen,
        "polling": not terminal,
    }
    # No request context: its processors (backend health for the page header) would cost queries.
    response = HttpResponse(render_to_string("runs/_graph_status.html", context))
    return stop_polling(response) if terminal else response


@require_GET
@roles.require(roles.READ)
def run_definition(request: HttpRequest, pk: int) -> HttpResponse:
    """The pipeline definition the run was submitted with, as a YAML file named after the run."""
    run = get_run(pk)
    try:
        text = get_backend(run.backend).get_definition(run.external_id)
    except BackendErrorBase as exc:
        messages.error(request, f"The definition could not be read from backend {run.backend}: {exc}")
        return redirect(run)
    if not text:
        messages.error(request, f"Backend {run.backend} has no definition for run {run.external_id}.")
        return redirect(run)
    filename = re.sub(r"[^A-Za-z0-9._-]+", "_", run.external_id).strip("._") or f"run-{run.pk}"
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"{filename}.yml")
    return response


def _after_action(request: HttpRequest, run: PipelineRun, action: Action) -> HttpResponse:
    if request.htmx:
        return render(request, "runs/run_detail.html#run-live", _run_context(request, run))
    messages.info(request, f"{action.get_kind_display()} requested (action #{action.pk}).")
    return redirect(run)


@require_POST
@roles.require(roles.CANCEL)
def run_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(pk)
    form = ReasonForm(request.POST)
    form.is_valid()
    action = run_cancel(run=run, user=request.user, reason=form.cleaned_data.get("reason", ""))
    return _after_action(request, run, action)


@require_POST
@roles.require(roles.RESUBMIT)
def run_resubmit_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(pk)
    form = ReasonForm(request.POST)
    form.is_valid()
    # "Rerun from failure" keeps what completed: the backend reuses those steps.
    force_rerun = request.POST.get("mode") != "from-failure"
    action = run_resubmit(
        run=run, user=request.user, reason=form.cleaned_data.get("reason", ""), force_rerun=force_rerun
    )
    return _after_action(request, run, action)


@require_POST
@roles.require(roles.PUBLISH)
def run_publish_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(pk)
    form = PublishForm(request.POST)
    if not form.is_valid():
        context = _page_context(request, run, publish_form=form)
        return render(request, "runs/run_detail.html", context, status=400)
    data = form.cleaned_data
    action = run_publish(
        run=run,
        user=request.user,
        name=data["name"],
        description=data["description"],
        version=data["version"],
        continue_on_step_failure=data["continue_on_step_failure"],
        reason=data["reason"],
    )
    messages.info(request, f"Publishing {data['name']} (action #{action.pk}).")
    return redirect(run)
