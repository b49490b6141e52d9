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
from dashboard.public import public_message
from runs.actions import published_submit_action
from runs.models import PipelineRun, PublishedPipeline
from runs.tokens import token_authenticate

MAX_BODY = 64 * 1024  # a submission is a few hundred bytes
MAX_DEPTH = 8  # {"ParameterAssignments": {"x": value}} is three deep
EXPERIMENT_LENGTH = PipelineRun._meta.get_field("experiment_name").max_length
MAX_TEXT = 4096  # a parameter's value as text


class BadBody(ValueError):
    """What is wrong with a request body, naming the field."""


def _depth(raw: bytes) -> int:
    """How deep arrays and objects nest, counted without parsing (a parser recurses: it is asked after)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _reject_constant(name: str) -> None:
    raise BadBody(f"{name} is not a number JSON allows: numbers must be finite")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadBody(f"{text[:40]} is beyond the range of numbers: numbers must be finite")
    return value


def _text(value: str, field: str, limit: int) -> str:
    if len(value) > limit:
        raise BadBody(f"{field} is longer than {limit} characters")
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise BadBody(f"{field} holds control characters")
    return value


def parse_body(raw: bytes) -> tuple[str, dict]:
    """(ExperimentName, ParameterAssignments) from a submission's body, or BadBody naming what is wrong."""
    if len(raw) > MAX_BODY:
        raise BadBody(f"the body is larger than {MAX_BODY // 1024} KB")
    if _depth(raw) > MAX_DEPTH:
        raise BadBody(f"the body nests deeper than {MAX_DEPTH} levels")
    try:
        body = json.loads(raw or b"{}", parse_constant=_reject_constant, parse_float=_finite)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadBody(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadBody("the body must be a JSON object")
    experiment = body.get("ExperimentName", "")
    assignments = body.get("ParameterAssignments", {})
    if not isinstance(experiment, str):
        raise BadBody("ExperimentName must be a string")
    _text(experiment, "ExperimentName", EXPERIMENT_LENGTH)
    if not isinstance(assignments, dict):
        raise BadBody("ParameterAssignments must be an object of parameter names to values")
    for name, value in assignments.items():
        field = f"ParameterAssignments.{name[:60]}"
        _text(name, "a parameter name in ParameterAssignments", 255)
        if isinstance(value, str):
            _text(value, field, MAX_TEXT)
        elif not (value is None or isinstance(value, bool | int | float)):
            raise BadBody(f"{field} must be a string, a number, true, false or null")
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
            raise BadBody(f"{field} is beyond the range of whole numbers (64 bits)")
    return experiment, assignments


def _error(status: int, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": public_message(message)}, status=status)
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
        experiment, assignments = parse_body(request.body)
    except BadBody as exc:
        return _error(413 if "larger than" in str(exc) else 400, str(exc))
    unknown = sorted(set(assignments) - set(published.parameters))
    if unknown:
        known = ", ".join(sorted(published.parameters)) or "none"
        return _error(
            400,
            f"unknown parameter{'s' if len(unknown) != 1 else ''}: {', '.join(unknown)} (this pipeline takes: {known})",
        )

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
