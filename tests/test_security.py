"""The security baseline: CSRF on every POST, login lockout, headers and cookies, production settings, no
secrets in pages or logs."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from axes.utils import reset
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from backends.base import RunStatus
from dashboard.models import Action
from dashboard.security import RedactSecretsFilter, redact_secrets
from tests import factories
from tests.conftest import ROOT

PASSWORD = "viewer-pass-123"  # the viewer fixture's (tests/conftest.py make_user)
STRONG_KEY = "q7Yd0-Kx_3vLzP9mWb2RtN8cJf4HsQ6uGe1VaT5oIy0DkXr2Lw"
EXPECTED_CSP = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
}


def directives(response) -> set[str]:
    return {d.strip() for d in response["Content-Security-Policy"].split(";")}


def csrf_token_from_page(html: str) -> str:
    # What htmx sends: the token <body hx-headers> carries, not one read from the cookie.
    match = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', html)
    assert match, "no CSRF token in <body hx-headers>"
    return match.group(1)


# --- CSRF -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_cancel_post_without_the_csrf_token_is_refused(operator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    run = factories.run(status=RunStatus.RUNNING)

    plain = client.post(reverse("runs:cancel", args=[run.pk]), {"reason": "forged"})
    htmx = client.post(reverse("runs:cancel", args=[run.pk]), {"reason": "forged"}, HTTP_HX_REQUEST="true")

    assert plain.status_code == 403 and htmx.status_code == 403
    assert "its CSRF check failed" in plain.content.decode()  # our page: Django's has an inline <style>
    assert not Action.objects.exists()


@pytest.mark.django_db
def test_an_htmx_cancel_with_the_token_from_the_page_is_accepted(operator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    run = factories.run(status=RunStatus.RUNNING)
    token = csrf_token_from_page(client.get(run.get_absolute_url()).content.decode())

    response = client.post(
        reverse("runs:cancel", args=[run.pk]),
        {"reason": "wrong data"},
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=token,
    )

    assert response.status_code == 200
    assert Action.objects.filter(reason="wrong data").count() == 1


def _all_views(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback
        else:
            yield from _all_views(entry, prefix + str(entry.pattern))


def test_no_view_outside_the_token_api_is_exempt_from_csrf():
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE
    # The JSON API under /api/ authenticates with bearer tokens, not cookies, so it needs no CSRF token.
    exempt = [
        route
        for route, view in _all_views(get_resolver())
        if getattr(view, "csrf_exempt", False) and not route.startswith("api/")
    ]

    assert exempt == []


def test_the_csrf_cookie_is_http_only_as_htmx_gets_the_token_from_the_page(client):
    response = client.get(reverse("login"))

    assert response.cookies[settings.CSRF_COOKIE_NAME]["httponly"]
    assert csrf_token_from_page(response.content.decode())


# --- login lockout --------------------------------------------------------------------------


def log_in(client: Client, password: str, username: str = "viewer", ip: str = "10.0.0.1", **meta: str):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip, **meta)


def fail(client: Client, times: int = 5, **kwargs) -> None:
    for attempt in range(1, times + 1):
        response = log_in(client, "wrong-password", **kwargs)
        if attempt < settings.AXES_FAILURE_LIMIT:
            assert response.status_code == 200 and "didn't match" in response.content.decode()
        else:  # the failure that reaches the limit already gets the lockout page
            assert response.status_code == 429


@pytest.mark.django_db
def test_five_bad_passwords_lock_the_username_out_even_with_the_right_one(client, viewer):
    fail(client)

    response = log_in(client, PASSWORD)

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed log-ins" in page and "in 15 minutes." in page
    assert "_auth_user_id" not in client.session
    assert directives(response) == EXPECTED_CSP


@pytest.mark.django_db
def test_the_lockout_is_for_the_username_from_that_address_only(client, viewer):
    fail(client, ip="10.0.0.1")

    assert log_in(client, PASSWORD, ip="10.0.0.2").status_code == 302


@pytest.mark.django_db
def test_behind_a_proxy_attempts_count_against_the_address_the_proxy_saw(client, viewer, settings):
    settings.RUNBOARD_BEHIND_PROXY = True
    proxy = "10.0.0.254"
    fail(
        client, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7"
    )  # the first is the client's claim

    assert log_in(client, PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    assert log_in(client, PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 302


@pytest.mark.django_db
def test_four_bad_passwords_then_the_right_one_start_the_count_again(client, viewer):
    fail(client, times=4)
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    fail(client, times=4)

    assert log_in(client, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_lockout_lifts_after_the_cool_off(client, viewer, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    fail(client)
    assert log_in(client, PASSWORD).status_code == 429

    time.sleep(1.2)
    response = log_in(client, PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(viewer.pk)


class Clock:
    """A stand-in for django.utils.timezone.now that moves only when told to."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    monkeypatch.setattr("django.utils.timezone.now", clock.now)
    # django-axes stamps each attempt with a `now` it imported by name.
    monkeypatch.setattr("axes.handlers.proxy.now", clock.now)
    return clock


@pytest.mark.django_db
def test_attempts_while_locked_out_do_not_extend_the_lockout(client, viewer, clock):
    fail(client)  # locked out at 09:00
    for minutes in (5, 5, 4):
        clock.advance(minutes=minutes)
        assert log_in(client, "wrong-password").status_code == 429
    clock.advance(seconds=59)  # 09:14:59
    assert log_in(client, PASSWORD).status_code == 429

    clock.advance(
        seconds=2
    )  # 09:15:01: fifteen minutes after the lockout began, two seconds after the last try
    response = log_in(client, PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(viewer.pk)


@pytest.mark.django_db
def test_the_lockout_page_says_when_to_try_again(client, viewer, clock):
    fail(client)  # locked out at 09:00
    clock.advance(minutes=6)
    assert log_in(client, "wrong-password").status_code == 429

    response = log_in(client, PASSWORD)

    page = response.content.decode()
    assert "Try again at 09:15 UTC, in 9 minutes." in page
    assert response["Retry-After"] == str(9 * 60)


@pytest.mark.django_db
def test_the_time_shown_holds_when_the_failures_came_from_two_browsers(client, viewer, clock):
    # django-axes keeps a row per user agent; each row's failures stop counting 15 minutes after its last one.
    for _ in range(3):
        log_in(client, "wrong-password", HTTP_USER_AGENT="browser-a")  # 09:00
    clock.advance(minutes=5)
    for _ in range(2):
        response = log_in(client, "wrong-password", HTTP_USER_AGENT="browser-b")  # 09:05: locked out

    assert response.status_code == 429
    assert "Try again at 09:15 UTC, in 10 minutes." in response.content.decode()
    clock.advance(minutes=9, seconds=59)
    assert log_in(client, PASSWORD, HTTP_USER_AGENT="browser-b").status_code == 429
    clock.advance(seconds=2)
    assert log_in(client, PASSWORD, HTTP_USER_AGENT="browser-b").status_code == 302


@pytest.mark.django_db
def test_an_administrator_can_lift_a_lockout(client, viewer):
    fail(client)
    assert log_in(client, PASSWORD).status_code == 429

    reset(username="viewer")

    assert log_in(client, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_force_login_still_works_with_the_lockout_backend(client, viewer):
    client.force_login(viewer)

    assert client.get(reverse("runs:list")).status_code == 200


# --- headers and cookies --------------------------------------------------------------------


@pytest.mark.django_db
def test_every_page_carries_the_security_headers(viewer_client):
    run = factories.run(status=RunStatus.RUNNING)

    for url in (reverse("login"), reverse("runs:list"), run.get_absolute_url(), "/nowhere/"):
        response = viewer_client.get(url)
        assert directives(response) == EXPECTED_CSP, url
        assert response["X-Frame-Options"] == "DENY", url
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["Referrer-Policy"] == "same-origin", url


@pytest.mark.django_db
def test_the_session_cookie_is_http_only(client, viewer):
    response = log_in(client, PASSWORD)

    assert response.cookies[settings.SESSION_COOKIE_NAME]["httponly"]


def test_templates_have_no_inline_script_or_style():
    offenders = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = re.sub(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", "", path.read_text(), flags=re.S)
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"<style\b", r"\sstyle\s*=", r"\son[a-z]+\s*="):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in re.finditer(pattern, text)]

    assert offenders == []


# --- production settings --------------------------------------------------------------------


# What a deployment would not have: the browser tests' conftest sets DJANGO_ALLOW_ASYNC_UNSAFE in this process.
NOT_INHERITED = {"SECRET_KEY", "DEBUG", "RUNBOARD_BEHIND_PROXY", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION = {"RUNBOARD_PRODUCTION": "1", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "runboard.example.com"}


def test_check_deploy_with_production_settings_prints_no_warnings():
    result = manage("check", "--deploy", **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.parametrize("key", ["", "short-key", "django-insecure-" + STRONG_KEY, "a" * 60])
def test_production_refuses_a_missing_or_weak_secret_key(key):
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": key})

    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "SECRET_KEY" in last
    assert not key or key not in last  # the message names the variable, never its value


def test_production_refuses_debug():
    result = manage("check", **PRODUCTION, DEBUG="1")

    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr.strip().splitlines()[-1]


PROBE = """
import json
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="runboard.example.com")
plain = client.get("/accounts/login/")
secure = client.get("/accounts/login/", secure=True)
print(json.dumps({
    "redirect": [plain.status_code, plain.get("Location")],
    "hsts": secure.get("Strict-Transport-Security"),
    "csrf_cookie": dict(secure.cookies[settings.CSRF_COOKIE_NAME]),
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "proxy_header": settings.SECURE_PROXY_SSL_HEADER,
}))
"""


def probe(**env: str) -> dict:
    result = manage("shell", "-c", PROBE, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_serves_https_only_with_hsts_and_secure_cookies():
    seen = probe(**PRODUCTION)

    assert seen["redirect"] == [301, "https://runboard.example.com/accounts/login/"]
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["csrf_cookie"]["secure"] and seen["csrf_cookie"]["httponly"]
    assert seen["session_cookie_secure"] is True
    assert seen["proxy_header"] is None


def test_behind_a_proxy_production_trusts_x_forwarded_proto():
    assert probe(**PRODUCTION, RUNBOARD_BEHIND_PROXY="1")["proxy_header"] == [
        "HTTP_X_FORWARDED_PROTO",
        "https",
    ]


# --- secrets --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_secret_key_is_never_rendered(client, viewer_client, operator_client, manager_client):
    pages = [client.get(reverse("login"))]
    run = factories.run(status=RunStatus.RUNNING)
    for role_client in (viewer_client, operator_client, manager_client):  # each role is shown other controls
        pages += [role_client.get(url) for url in (reverse("runs:list"), run.get_absolute_url(), "/nowhere/")]

    for response in pages:
        assert settings.SECRET_KEY not in response.content.decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer rb_9f8e7d6c5b4a", "Authorization: [redacted]"),
        (
            "headers={'HTTP_AUTHORIZATION': 'Bearer rb_9f8e7d6c5b4a'}",
            "headers={'HTTP_AUTHORIZATION': '[redacted]'}",
        ),
        ('{"authorization": "Basic YWRtaW46cGFzcw=="}', '{"authorization": "[redacted]"}'),
        (
            "POST /api/published/3/runs with bearer abc.DEF-123_x~y+z/== refused",
            "POST /api/published/3/runs with bearer [redacted] refused",
        ),
        ("authorization failed for user admin", "authorization failed for user admin"),
        (
            "token rbp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE in a URL",
            "token rbp_AbCd[redacted] in a URL",
        ),
        ("token ci (rbp_AbCd…) used", "token ci (rbp_AbCd…) used"),
    ],
)
def test_redaction_removes_credentials_and_keeps_the_rest(text, expected):
    assert redact_secrets(text) == expected


def test_the_log_filter_redacts_messages_arguments_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("request with %s", "Authorization: Bearer rb_secret_one")
        try:
            raise ValueError("bad header Bearer rb_secret_two")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)

    written = stream.getvalue()
    assert "rb_secret" not in written
    assert (
        "request with Authorization: [redacted]" in written
        and "ValueError: bad header Bearer [redacted]" in written
    )


def test_the_console_log_handler_redacts_secrets():
    handlers = [
        h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecretsFilter) for f in h.filters)
    ]

    assert handlers, "the root logger's console handler has no RedactSecretsFilter"


@pytest.mark.django_db
@pytest.mark.parametrize("given", ["", "a-password-from-the-environment"])
def test_bootstrap_never_prints_or_logs_the_admin_password(given, settings, tmp_path, monkeypatch, caplog):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from dashboard.management.commands.bootstrap import admin_password_file

    settings.VAR_DIR, settings.EXAMPLES_DIR = tmp_path, tmp_path
    monkeypatch.setenv("RUNBOARD_ADMIN_PASSWORD", given)
    out, err = io.StringIO(), io.StringIO()
    with caplog.at_level(logging.DEBUG):
        call_command("bootstrap", stdout=out, stderr=err)

    # `manage.py serve` prints a generated password once, from a file only its owner can read.
    password = given or admin_password_file().read_text().strip()
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert password not in out.getvalue() + err.getvalue() + caplog.text
    if not given:
        assert admin_password_file().stat().st_mode & 0o777 == 0o600


CELERY_LOGS = """
import logging
import django
django.setup()
from celery.utils.log import get_task_logger
from dashboard.celery import app
app.log.setup(loglevel="INFO")  # what a worker does at start: it replaces the root logger's handlers
logging.getLogger("runs.sync").warning("backend said: Authorization: Bearer rbp_AbCdEfGhIjKlMnOpQrStUvWx")
get_task_logger("runs.tasks").warning("retrying with bearer rbp_AbCdEfGhIjKlMnOpQrStUvWx")
"""


def test_celery_workers_redact_their_logs_too():
    environ = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    result = subprocess.run(
        [sys.executable, "-c", CELERY_LOGS],
        cwd=ROOT,
        env={**environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "Authorization: [redacted]" in result.stderr and "bearer [redacted]" in result.stderr
    assert "EfGhIjKl" not in result.stderr


def test_a_viewer_switches_every_page_to_utc_and_back(viewer_client):
    run = factories.run(created_at=datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    viewer_client.cookies["tz"] = "Asia/Tokyo"

    local = viewer_client.get(run.get_absolute_url()).content.decode()
    switched = viewer_client.post(reverse("set_time_zone"), {"mode": "utc", "next": run.get_absolute_url()})
    utc = viewer_client.get(run.get_absolute_url()).content.decode()

    assert "Times in Asia/Tokyo" in local and "2026-06-01 21:00:00" in local
    assert switched.status_code == 302 and switched["Location"] == run.get_absolute_url()
    assert "Times in UTC" in utc and "2026-06-01 12:00:00" in utc and ">Show my time</button>" in utc
    viewer_client.post(reverse("set_time_zone"), {"mode": "local"})
    assert "Times in Asia/Tokyo" in viewer_client.get(reverse("runs:list")).content.decode()


def test_the_time_zone_switch_refuses_anything_else_and_goes_only_to_this_site(viewer_client):
    assert viewer_client.post(reverse("set_time_zone"), {"mode": "Mars"}).status_code == 400
    away = viewer_client.post(reverse("set_time_zone"), {"mode": "utc", "next": "https://example.com/"})
    assert away.status_code == 302 and away["Location"] == reverse("home")
