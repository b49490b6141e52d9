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
SUBMIT_PUBLISHED = "runs.submit_publishedpipeline"  # and make tokens, see and revoke one's own
SUBMIT_PIPELINE = "runs.submit_pipeline"  # start a run of a pipeline from its page, with inputs of one's own
ENABLE_PUBLISHED = "runs.enable_publishedpipeline"
MANAGE_TOKENS = "runs.manage_apitoken"  # see every user's tokens, with their owners, and revoke any
READ_SCHEDULES = "schedules.view_schedule"
ENABLE_SCHEDULE = "schedules.enable_schedule"
CHECK_BACKEND = "dashboard.check_backendstate"
READ_ENVIRONMENTS = "local_engine.view_localenvironment"
REMOVE_ENVIRONMENT = "local_engine.delete_localenvironment"

_READ_ALL = [
    "runs.view_pipeline",
    READ,
    "runs.view_steprun",
    "runs.view_publishedpipeline",
    "dashboard.view_action",
    "dashboard.view_backendstate",
    READ_SCHEDULES,
    "schedules.view_schedulefire",
    READ_ENVIRONMENTS,
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: [*_READ_ALL, PUBLISH],
    OPERATOR: [
        *_READ_ALL,
        PUBLISH,
        CANCEL,
        RESUBMIT,
        SUBMIT_PUBLISHED,
        SUBMIT_PIPELINE,
        CHECK_BACKEND,
        REMOVE_ENVIRONMENT,
    ],
    SCHEDULE_MANAGER: [*_READ_ALL, PUBLISH, ENABLE_PUBLISHED, ENABLE_SCHEDULE, MANAGE_TOKENS],
}


def ensure_roles(apps) -> None:
    """Make the groups hold exactly their permissions. Run by migrations, whenever a role changes."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally made after all migrations ran; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)


def require(permission: str) -> Callable:
    """403 (and nothing changed) unless the user holds ``permission``. Login is checked by the middleware."""
    return require_any(permission)


def require_any(*permissions: str) -> Callable:
    """403 (and nothing changed) unless the user holds one of ``permissions``.

    For views where what the user may do depends on the object too (their own or everyone's): the view checks
    that after this.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not any(request.user.has_perm(permission) for permission in permissions):
                names = " or ".join(permission.split(".")[1] for permission in permissions)
                raise PermissionDenied(f"Your role does not allow this ({names}).")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
