"""Security helpers the settings refer to: the production secret key check, the login lockout page, the client
address behind a proxy, and a logging filter that keeps bearer tokens out of logs."""

from __future__ import annotations

import logging
import math
import re
from datetime import datetime, timedelta

from celery.signals import after_setup_logger, after_setup_task_logger
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.utils import timezone

# Django's own bar for a secret key (security.W009): long, varied, not one of its generated insecure keys.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5


def check_production_secret_key(key: str) -> None:
    """Refuse to start in production with a missing, short or made-up secret key."""
    if not key:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set in the environment when RUNBOARD_PRODUCTION=1 "
            '(for example: python -c "import secrets; print(secrets.token_urlsafe(50))")'
        )
    if (
        len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or key.startswith("django-insecure-")
    ):
        raise ImproperlyConfigured(
            f"SECRET_KEY is too weak for RUNBOARD_PRODUCTION=1: use at least {SECRET_KEY_MIN_LENGTH} random "
            'characters (for example: python -c "import secrets; print(secrets.token_urlsafe(50))")'
        )


def client_ip(request: HttpRequest) -> str | None:
    """The address login attempts are counted against.

    Behind one reverse proxy (RUNBOARD_BEHIND_PROXY=1) every request comes from the proxy, so the client is the
    last address the proxy appended to X-Forwarded-For; earlier entries are whatever the client claimed.
    """
    if getattr(settings, "RUNBOARD_BEHIND_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Our 403 page for a POST without a valid CSRF token (CSRF_FAILURE_VIEW).

    Django's own page carries an inline <style>, which the content security policy refuses.
    """
    message = (
        "This request did not come from a Runboard page (its CSRF check failed). Reload it and try again."
    )
    return render(request, "403.html", {"message": message}, status=403)


def _attempt_time(request: HttpRequest) -> datetime:
    # django-axes' clock for this request: it counts the cool-off window back from it.
    return getattr(request, "axes_attempt_time", None) or timezone.now()


def lockout_ends_at(request: HttpRequest, credentials: dict | None = None) -> datetime:
    """When the lockout of this login (its username from its address) lifts.

    django-axes counts the failures recorded within the cool-off before now; the lockout lifts once those left
    in that window fall below the limit. Attempts refused while locked are not recorded
    (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False), so this is the cool-off after the failure that
    reached the limit, however often the user tried since.
    """
    from axes.handlers.proxy import AxesProxyHandler
    from axes.helpers import get_cool_off, get_failure_limit

    cool_off = get_cool_off(request) or timedelta(0)
    limit = get_failure_limit(request, credentials)
    ends = _attempt_time(request)
    # One row per user agent: trying from several browsers makes several rows, each leaving the window in turn.
    for attempts in AxesProxyHandler.get_implementation().get_user_attempts(request, credentials):
        rows = attempts.order_by("attempt_time").values_list("attempt_time", "failures_since_start")
        left = sum(failures for _, failures in rows)
        for attempt_time, failures in rows:
            if left < limit:
                break
            left -= failures
            ends = max(ends, attempt_time + cool_off)
    return ends


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The page a locked-out login gets (django-axes' AXES_LOCKOUT_CALLABLE): 429, and when to try again."""
    ends = lockout_ends_at(request, credentials)
    seconds = max(1, math.ceil((ends - _attempt_time(request)).total_seconds()))
    # Shown to the minute, rounded up: trying at the time shown must work.
    retry_at = ends.replace(second=0, microsecond=0)
    if retry_at < ends:
        retry_at += timedelta(minutes=1)
    response = TemplateResponse(
        request,
        "registration/lockout.html",
        {
            "retry_at": retry_at,
            "retry_minutes": math.ceil(seconds / 60),
            "failure_limit": settings.AXES_FAILURE_LIMIT,
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response.render()


# --- logs -----------------------------------------------------------------------------------

REDACTED = "[redacted]"
_SECRET_PATTERNS = [
    # An Authorization header however it is printed: `Authorization: Bearer x`, `'HTTP_AUTHORIZATION': 'Basic x'`,
    # `authorization=x`. The whole credential goes, scheme included.
    (
        re.compile(
            r"""(?i)(authorization["']?\s*[:=]\s*["']?)(?:(?:bearer|basic|token|digest)\s+)?[^\s"',;}]+"""
        ),
        rf"\g<1>{REDACTED}",
    ),
    # A bearer token anywhere else in a message.
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), rf"\g<1>{REDACTED}"),
    # A published-pipeline token on its own (runs.tokens: "rbp_" and 43 URL-safe characters). Its short
    # recognisable prefix, "rbp_" and 4 characters, is not a secret and stays.
    (re.compile(r"\b(rbp_[A-Za-z0-9_-]{4})[A-Za-z0-9_-]{16,}"), rf"\g<1>{REDACTED}"),
]


def redact_secrets(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites a log record whose message or traceback carries an Authorization header or a bearer token.

    Attached to handlers, so it sees records from every logger that reaches them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report, not ours
            return True
        redacted = redact_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the redacted traceback is what gets written.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_secrets(record.stack_info)
        return True


@after_setup_logger.connect
@after_setup_task_logger.connect
def redact_celery_logs(logger: logging.Logger, **kwargs) -> None:
    """A Celery worker replaces the root logger's handlers that LOGGING made; its own ones redact too.

    Connected here, where the settings import it, so that every worker has it before it sets up logging.
    """
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecretsFilter) for f in handler.filters):
            handler.addFilter(RedactSecretsFilter())
