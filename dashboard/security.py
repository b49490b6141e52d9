"""Security helpers the settings refer to: the production secret key check, the login lockout page, the client
address behind a proxy, and a logging filter that keeps bearer tokens out of logs."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from celery.signals import after_setup_logger, after_setup_task_logger
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.response import TemplateResponse

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


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The page a locked-out login gets (django-axes' AXES_LOCKOUT_CALLABLE): 429, wait and try again."""
    from axes.helpers import get_cool_off

    cool_off = get_cool_off(request) or timedelta(0)
    minutes = max(1, round(cool_off.total_seconds() / 60))
    response = TemplateResponse(
        request,
        "registration/lockout.html",
        {"cool_off_minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )
    response["Retry-After"] = str(max(1, int(cool_off.total_seconds())))
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
