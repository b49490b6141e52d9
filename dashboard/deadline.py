"""Every request has a deadline: the loops a request runs check it, and the database stops a query past it, so
that no request occupies a web thread for long whatever it asks for.

A loop calls ``check()``; past the deadline it raises ``DeadlineExceeded``, which the middleware answers with a
503 page. SQLite queries are interrupted by a progress handler; PostgreSQL's run under the web server's
``statement_timeout``. A streamed download is bounded by what it streams, not by the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import OperationalError
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

_deadline: ContextVar[float | None] = ContextVar("request_deadline", default=None)


class DeadlineExceeded(Exception):
    """The request ran past its deadline."""


def check() -> None:
    """Raise DeadlineExceeded when the current request is past its deadline (nothing outside a request)."""
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded(f"the request took longer than {settings.REQUEST_DEADLINE_SECONDS:g} s")


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Run the block under a deadline ``seconds`` from now (as the middleware runs each request)."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        # Cleared before a streamed body is sent: a download is bounded by its size, not by the deadline.
        _deadline.reset(token)


def exceeded() -> bool:
    deadline = _deadline.get()
    return deadline is not None and time.monotonic() > deadline


class DeadlineMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with within(settings.REQUEST_DEADLINE_SECONDS):
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DeadlineExceeded) or (
            isinstance(exception, OperationalError) and exceeded()
        ):
            return _too_long(request)
        return None


def _too_long(request: HttpRequest) -> HttpResponse:
    seconds = f"{settings.REQUEST_DEADLINE_SECONDS:g}"
    if getattr(request, "htmx", False):
        return HttpResponse(f"This took longer than {seconds} s and was stopped.", status=503)
    return render(request, "503.html", {"seconds": seconds}, status=503)


def _interrupt_past_deadline() -> int:
    return 1 if exceeded() else 0


@receiver(connection_created)
def _bound_sqlite_queries(sender, connection, **kwargs) -> None:
    # SQLite calls this every N virtual-machine steps; a non-zero answer interrupts the query.
    if connection.vendor == "sqlite":
        connection.connection.set_progress_handler(_interrupt_past_deadline, 20_000)
