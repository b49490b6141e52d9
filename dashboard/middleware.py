"""Times are shown in the viewer's time zone: the browser names it in a cookie (static/runboard.js)."""

from __future__ import annotations

from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from dashboard import params

COOKIE = "tz"


class ViewerTimezoneMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = params.zone(unquote(request.COOKIES.get(COOKIE, "")))
        # An unknown name (or a folder of zones, or a path): UTC, never an error page.
        timezone.activate(zone) if zone else timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
