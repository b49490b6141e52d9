"""The audit trail (/actions/) and the error pages."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dashboard import params, roles
from dashboard.middleware import MODE_COOKIE
from dashboard.models import Action
from dashboard.paging import keyset_page
from dashboard.params import BadParameter
from runs.filters import known_backends
from runs.models import Pipeline, PipelineRun, PublishedPipeline
from schedules.models import Schedule

PAGE_SIZE = 50
TARGET_MODELS = {
    "run": PipelineRun,
    "published": PublishedPipeline,
    "schedule": Schedule,
    "pipeline": Pipeline,
}


def attach_targets(actions: list[Action]) -> None:
    """Give each action ``target`` (its target in the mirror as it is now, or None when gone) and ``target_url``:
    one query per kind of target, for any number of rows."""
    for action in actions:
        action.target, action.target_url = None, ""
    for target_type, model in TARGET_MODELS.items():
        keys = {(a.backend, a.target_id) for a in actions if a.target_type == target_type}
        if not keys:
            continue
        query = Q()
        for backend, external_id in keys:
            query |= Q(backend=backend, external_id=external_id)
        found = {(o.backend, o.external_id): o for o in model.objects.filter(query)}
        for action in actions:
            if action.target_type == target_type and (
                target := found.get((action.backend, action.target_id))
            ):
                action.target, action.target_url = target, target.get_absolute_url()


@require_GET
@roles.require("dashboard.view_action")
def action_list(request: HttpRequest) -> HttpResponse:
    actions = Action.objects.select_related("requested_by")
    filters = {
        key: request.GET.get(key, "").strip() for key in ("kind", "status", "user", "target", "backend")
    }
    if filters["backend"]:
        actions = actions.filter(backend=filters["backend"])
    if filters["kind"]:
        actions = actions.filter(kind=filters["kind"])
    if filters["status"]:
        actions = actions.filter(status=filters["status"])
    if filters["user"]:
        actions = actions.filter(requested_by__username=filters["user"])
    if filters["target"]:
        actions = actions.filter(
            Q(target_id__icontains=filters["target"]) | Q(target_label__icontains=filters["target"])
        )
    page = keyset_page(actions, request.GET.get("cursor", ""), field="requested_at", size=PAGE_SIZE)
    if not page.cursor_valid:
        messages.error(request, "That page link is not valid any more; showing the newest actions.")
    attach_targets(page.items)
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "dashboard/action_list.html",
        {
            "actions": page.items,
            "next_cursor": page.next_cursor,
            "cursor": page.cursor,
            "filters": filters,
            "query": query,
            "kinds": Action.Kind.choices,
            "statuses": Action.Status.choices,
            "users": get_user_model().objects.filter(actions__isnull=False).distinct().order_by("username"),
            "backends": known_backends(),
        },
    )


@require_GET
@roles.require("dashboard.view_action")
def action_detail(request: HttpRequest, pk: int) -> HttpResponse:
    action = get_object_or_404(Action.objects.select_related("requested_by"), pk=pk)
    attach_targets([action])
    outcome_url = ""
    if action.outcome.get("run"):
        outcome_url = PipelineRun(pk=action.outcome["run"]).get_absolute_url()
    elif action.outcome.get("published"):
        outcome_url = PublishedPipeline(pk=action.outcome["published"]).get_absolute_url()
    template = "dashboard/action_detail.html#action-live" if request.htmx else "dashboard/action_detail.html"
    return render(request, template, {"action": action, "outcome_url": outcome_url})


@require_POST
def set_time_zone(request: HttpRequest) -> HttpResponse:
    """Show times in UTC, or in the browser's own zone again; every page follows, through a cookie."""
    mode = request.POST.get("mode")
    if mode not in ("utc", "local"):
        raise BadParameter("mode", "must be utc or local")
    response = redirect(params.next_url(request, request.POST.get("next"), reverse("home")))
    response.set_cookie(MODE_COOKIE, mode, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else "You may not do that."
    return render(request, "403.html", {"message": message}, status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not hasattr(
        request, "user"
    ):  # refused before the session was read (dashboard.middleware.NoNulMiddleware)
        request.user = AnonymousUser()
    message = (
        str(exception) if isinstance(exception, BadParameter) else "The request could not be understood."
    )
    return render(request, "400.html", {"message": message}, status=400)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", {"path": request.path}, status=404)
