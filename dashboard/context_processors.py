from django.http import HttpRequest
from django.utils import timezone

from dashboard.models import BackendState
from dashboard.supervision import notices


def backend_health(request: HttpRequest) -> dict:
    if not request.user.is_authenticated or getattr(request, "htmx", False):
        return {}  # fragments have no page header: spare them the query
    unhealthy = list(BackendState.objects.filter(healthy=False))
    return {
        "unhealthy_backends": unhealthy,
        "failing_backends": {b.name for b in unhealthy},
        "stack_notices": notices(),
        "TIME_ZONE_LABEL": timezone.get_current_timezone_name(),
        "TIME_ZONE_MODE": getattr(request, "time_zone_mode", "local"),
    }
