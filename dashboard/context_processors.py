from django.http import HttpRequest

from dashboard.models import BackendState


def backend_health(request: HttpRequest) -> dict:
    if not request.user.is_authenticated:
        return {}
    return {"unhealthy_backends": [s for s in BackendState.objects.filter(healthy=False)]}
