"""Request checks every page shares: no NUL in what a client sends; times in the viewer's time zone."""

from __future__ import annotations

from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from dashboard import params

COOKIE = "tz"
MODE_COOKIE = "tzmode"  # "utc": the viewer asked for UTC; otherwise times are in the browser's zone
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class NoNulMiddleware:
    """A NUL character in the path, the query string, a form or a cookie is a 400 naming where it was.

    PostgreSQL's text columns cannot hold NUL, so such a value reaching a query would be a 500 there (and a
    silently different answer on SQLite); no page has a use for it.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            raise params.BadParameter("path", "contains a NUL character")
        sources = [("query", request.GET), ("cookie", request.COOKIES.items())]
        if request.method == "POST" and request.content_type in FORMS:
            sources.append(("form", request.POST))
        for where, values in sources:
            pairs = values.lists() if hasattr(values, "lists") else ((k, [v]) for k, v in values)
            for key, items in pairs:
                if "\x00" in key or any("\x00" in item for item in items):
                    raise params.BadParameter(
                        f"{where} {key.replace(chr(0), '?')!r}", "contains a NUL character"
                    )
        return self.get_response(request)


class ViewerTimezoneMiddleware:
    """Times are shown in the viewer's time zone: the browser names it in a cookie (static/runboard.js)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        wants_utc = request.COOKIES.get(MODE_COOKIE) == "utc"
        zone = None if wants_utc else params.zone(unquote(request.COOKIES.get(COOKIE, "")))
        request.time_zone_mode = "utc" if wants_utc else "local"
        # An unknown name (or a folder of zones, or a path): UTC, never an error page.
        timezone.activate(zone) if zone else timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
