"""The roles: groups made by a migration (dashboard/migrations/0003_roles.py), each a set of permissions.

A user may hold several. Views check the permission, never the group.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

VIEWER = "viewer"
OPERATOR = "operator"
SCHEDULE_MANAGER = "schedule-manager"

READ = "runs.view_pipelinerun"
CANCEL = "runs.cancel_pipelinerun"
RESUBMIT = "runs.resubmit_pipelinerun"
PUBLISH = "runs.publish_pipelinerun"
SUBMIT_PUBLISHED = "runs.submit_publishedpipeline"
ENABLE_PUBLISHED = "runs.enable_publishedpipeline"


def require(permission: str) -> Callable:
    """403 (and nothing changed) unless the user holds ``permission``. Login is checked by the middleware."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.has_perm(permission):
                raise PermissionDenied(f"Your role does not allow this ({permission.split('.')[1]}).")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
