"""Structured logs: RUNBOARD_LOG_FORMAT=json writes one JSON object per line, from the web server, the workers
and beat alike, each with what the line concerns where it is known: the request and its user, the action, the
run, the backend.

What a line concerns is kept in context variables: the request middleware sets the request id and the user, the
Celery tasks set the action, run or backend they work on (``log_context``). A thread (gunicorn's gthread
workers) and a task each see their own. Secrets are redacted by the handler's RedactSecretsFilter, and again here
for what the formatter adds, so the JSON output never carries a token that the text output would not.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from celery.signals import after_setup_logger, after_setup_task_logger
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from dashboard.security import redact_secrets

CONTEXT_FIELDS = ("request_id", "user", "action_id", "run_id", "backend")
_context: ContextVar[dict[str, Any] | None] = ContextVar("runboard_log_context", default=None)
_request: ContextVar[HttpRequest | None] = ContextVar("runboard_log_request", default=None)

# A request id a proxy sends (X-Request-ID) is kept when it looks like one; anything else gets a new one.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
REQUEST_ID_HEADER = "X-Request-ID"
# Probes come every few seconds: their lines would drown the rest at INFO.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

request_log = logging.getLogger("runboard.requests")


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Every log line written inside the block carries ``fields`` (those not None), on top of the outer ones."""
    current = _context.get() or {}
    token = _context.set(current | {k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, Any]:
    """What the log lines written now carry: the context's fields and, during a request, its user once known."""
    fields = dict(_context.get() or {})
    request = _request.get()
    if request is not None and "user" not in fields and (user := _known_user(request)):
        fields["user"] = user
    return fields


def _known_user(request: HttpRequest) -> str:
    """The request's user, but only once something else loaded it: logging never makes a query of its own."""
    user = getattr(request, "user", None)
    if user is None or getattr(user, "_wrapped", None) is empty:
        return ""
    return user.get_username() if user.is_authenticated else ""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the context fields, and the
    exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_secrets(record.getMessage()),
        }
        entry |= current_context()
        for name in CONTEXT_FIELDS:  # given with extra={...} at the call: that wins
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = redact_secrets(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact_secrets(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


class RequestLogMiddleware:
    """Gives each request an id (the proxy's X-Request-ID when it sends a sane one), which every log line of the
    request carries and the answer echoes; logs one line per request at the end."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        request.request_id = request_id
        started = time.perf_counter()
        request_token = _request.set(request)
        try:
            with log_context(request_id=request_id):
                response = self.get_response(request)
                level = logging.DEBUG if request.path in QUIET_PATHS else logging.INFO
                request_log.log(
                    level,
                    "%s %s %s %.0f ms",
                    request.method,
                    request.path,
                    response.status_code,
                    (time.perf_counter() - started) * 1000,
                )
        finally:
            _request.reset(request_token)
        response[REQUEST_ID_HEADER] = request_id
        return response


@after_setup_logger.connect
@after_setup_task_logger.connect
def format_celery_logs(logger: logging.Logger, **kwargs: Any) -> None:
    """Celery's workers and beat replace the handlers LOGGING made with their own (which keep redacting:
    dashboard.security): in the JSON format they write JSON too, their redirected stdout included.

    Connected when dashboard/celery.py imports this module, before a worker or beat sets up its logging.
    """
    from django.conf import settings

    if settings.LOG_FORMAT == "json":
        for handler in logger.handlers:
            handler.setFormatter(JsonFormatter())
