"""The REST endpoint of published pipelines: other systems submit runs with a bearer token.

POST /api/published/<id>/runs
Authorization: Bearer <token>
{"ExperimentName": "...", "ParameterAssignments": {"name": value}}
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from backends.base import BackendError, BackendUnavailable, Conflict, InvalidParameters, NotFound
from dashboard import roles
from dashboard.actions import action_perform_now
from runs.actions import published_submit_action
from runs.models import PipelineRun, PublishedPipeline
from runs.tokens import token_authenticate


def _error(status: int, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _unauthorized(message: str) -> JsonResponse:
    return _error(401, message, **{"WWW-Authenticate": 'Bearer realm="runboard"'})


@csrf_exempt  # no cookies here: the bearer token is the credential
@login_not_required
@require_POST
def published_runs(request: HttpRequest, pk: int) -> JsonResponse:
    published = PublishedPipeline.objects.filter(pk=pk).first()
    if published is None:
        return _error(404, f"no published pipeline {pk}")
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return _unauthorized("send a token: Authorization: Bearer <token>")
    token = token_authenticate(secret.strip(), published)
    if token is None:
        return _unauthorized("the token is not valid for this published pipeline (unknown or revoked)")
    user = token.created_by
    if user is None or not user.is_active or not user.has_perm(roles.SUBMIT_PUBLISHED):
        return _error(403, "the token's owner may no longer submit runs of published pipelines")
    if not published.is_active:
        return _error(409, f"published pipeline {published} is disabled; enable it to submit runs")

    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _error(400, f"the body is not JSON: {exc}")
    if not isinstance(body, dict):
        return _error(400, "the body must be a JSON object")
    experiment = body.get("ExperimentName", "")
    assignments = body.get("ParameterAssignments", {})
    if not isinstance(experiment, str):
        return _error(400, "ExperimentName must be a string")
    if not isinstance(assignments, dict):
        return _error(400, "ParameterAssignments must be an object of parameter names to values")
    unknown = sorted(set(assignments) - set(published.parameters))
    if unknown:
        known = ", ".join(sorted(published.parameters)) or "none"
        return _error(400, f"unknown parameter(s): {', '.join(unknown)} (this pipeline takes: {known})")

    action = published_submit_action(
        published=published,
        user=user,
        parameters=assignments,
        experiment=experiment,
        reason=f"REST API, token {token}",
        enqueue=False,
    )
    try:
        action = action_perform_now(action)
    except InvalidParameters as exc:
        return _error(400, str(exc))
    except Conflict as exc:
        return _error(409, str(exc))
    except NotFound as exc:
        return _error(404, str(exc))
    except BackendUnavailable as exc:
        return _error(503, f"the backend is unavailable, try again later: {exc}", **{"Retry-After": "30"})
    except BackendError as exc:
        return _error(502, f"the backend refused the run: {exc}")
    run = PipelineRun.objects.get(pk=action.outcome["run"])
    return JsonResponse(
        {
            "Id": run.external_id,
            "Status": run.status,
            "Url": request.build_absolute_uri(run.get_absolute_url()),
            "Action": request.build_absolute_uri(reverse("action_detail", args=[action.pk])),
        },
        status=201,
    )
