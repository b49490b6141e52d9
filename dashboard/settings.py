"""Runboard settings: every value comes from the environment, with a default that works on a fresh machine."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from dashboard.env import env_bool, env_int, env_list, env_str, env_url
from dashboard.redis_server import redis_socket_path
from dashboard.security import check_production_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("RUNBOARD_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

# RUNBOARD_PRODUCTION=1: HTTPS only (secure cookies, redirect, HSTS), SECRET_KEY from the environment, no DEBUG.
PRODUCTION = env_bool("RUNBOARD_PRODUCTION", False)
# RUNBOARD_BEHIND_PROXY=1: a reverse proxy terminates TLS and sets X-Forwarded-Proto and X-Forwarded-For.
RUNBOARD_BEHIND_PROXY = env_bool("RUNBOARD_BEHIND_PROXY", False)
DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when RUNBOARD_PRODUCTION=1")
SECRET_KEY = env_str("SECRET_KEY")
if PRODUCTION:
    check_production_secret_key(SECRET_KEY)
elif not SECRET_KEY:
    # A fresh machine gets a key made once and kept under var/, so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "axes",
    "csp",
    "dashboard",
    "runs",
    "schedules",
    "backends.local",
]

MIDDLEWARE = [
    # First, so every answer is timed and every log line of a request carries its id, refusals included.
    "dashboard.metrics.RequestMetricsMiddleware",
    "dashboard.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "dashboard.deadline.DeadlineMiddleware",
    "dashboard.middleware.NoNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dashboard.middleware.ViewerTimezoneMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context_processors.backend_health",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", {"sqlite", "postgres", "postgresql", "pgsql"})
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "runboard.sqlite3",
            # The test database is a file too, so Celery worker processes started by the tests can open it;
            # one per test process, so two test runs side by side do not share it.
            "TEST": {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers go on while one process writes; IMMEDIATE takes the write lock when a transaction
    # starts, so the web process and several workers queue on the busy timeout instead of failing with
    # "database is locked" halfway through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", str(VAR_DIR / f"test-{os.getpid()}.sqlite3")
    )
# A PostgreSQL on another host may vanish (a network cut): a connection that cannot be made fails within
# connect_timeout, one whose peer went silent within seconds (keepalives while idle, tcp_user_timeout while data
# waits for its ACK), instead of hanging through TCP's back-off for minutes. A step's task then reconnects.
DATABASE_TIMEOUT_SECONDS = env_int("RUNBOARD_DATABASE_TIMEOUT", 5)
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": DATABASE_TIMEOUT_SECONDS,
            "keepalives": 1,
            "keepalives_idle": DATABASE_TIMEOUT_SECONDS,
            "keepalives_interval": 1,
            "keepalives_count": 3,
            "tcp_user_timeout": DATABASE_TIMEOUT_SECONDS * 2000,  # milliseconds
        }
    )
# A step's task that cannot write its heartbeat for this long stops its step (backends/local/watchdog.py): below
# the minute after which the heartbeat check declares a silent step Failed.
LOCAL_DATABASE_LOSS_SECONDS = env_int("RUNBOARD_DATABASE_LOSS_LIMIT", 50)
if not 1 <= LOCAL_DATABASE_LOSS_SECONDS <= 50:
    raise ImproperlyConfigured(
        f"RUNBOARD_DATABASE_LOSS_LIMIT={LOCAL_DATABASE_LOSS_SECONDS} must be 1 to 50 seconds: below the 60 s after "
        "which a step without heartbeats is declared Failed"
    )
# Every web request has a deadline (dashboard/deadline.py); in the web server, PostgreSQL stops a query past it.
REQUEST_DEADLINE_SECONDS = env_int("RUNBOARD_REQUEST_DEADLINE", 10)
if DATABASES["default"]["ENGINE"].endswith("postgresql") and env_str("RUNBOARD_WEB_PROCESS"):
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c statement_timeout={REQUEST_DEADLINE_SECONDS * 1000}"
    )
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A database that does not answer is an error within seconds (and /readyz a 503), not a hang.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and Celery -----------------------------------------------------------------------
# Unset REDIS_URL means the embedded server that `manage.py serve` (make run) starts on a socket in var/.
# var/redis/redis.sock, or a short path under /tmp when that is too long for a unix socket.
EMBEDDED_REDIS_SOCKET = redis_socket_path(VAR_DIR / "redis")
REDIS_URL = env_url("REDIS_URL", {"redis", "rediss", "unix"}) or f"unix://{EMBEDDED_REDIS_SOCKET}"
REDIS_EMBEDDED = not env_str("REDIS_URL")


def _broker_url(url: str) -> str:
    return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url


CELERY_BROKER_URL = _broker_url(REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "runboard"
CELERY_TASK_ROUTES = {"backends.local.tasks.run_step": {"queue": "steps"}}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A Redis that does not answer (frozen, gone) costs a request this many seconds at most: what it was to send
# stays recorded (an action stays pending) and is sent again when Redis is back.
QUEUE_TIMEOUT_SECONDS = env_int("RUNBOARD_QUEUE_TIMEOUT", 5)
CELERY_BROKER_CONNECTION_TIMEOUT = QUEUE_TIMEOUT_SECONDS
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_timeout": QUEUE_TIMEOUT_SECONDS,
    "socket_connect_timeout": QUEUE_TIMEOUT_SECONDS,
}
CELERY_TIMEZONE = "UTC"
SYNC_INTERVAL_SECONDS = env_int("RUNBOARD_SYNC_INTERVAL", 2)
CELERY_BEAT_SCHEDULE = {
    "sync-backends": {"task": "runs.tasks.sync_all_backends", "schedule": float(SYNC_INTERVAL_SECONDS)},
    "local-engine-heartbeats": {"task": "backends.local.tasks.check_heartbeats", "schedule": 5.0},
    "requeue-stale-actions": {"task": "dashboard.tasks.requeue_stale_actions", "schedule": 15.0},
    "local-engine-schedules": {
        "task": "backends.local.tasks.fire_schedules",
        "schedule": float(env_int("RUNBOARD_SCHEDULE_TICK", 10)),
    },
}

# --- operations: /healthz, /readyz, /metrics, logs ------------------------------------------
# /readyz's database query and Redis ping each give up after this many seconds.
HEALTH_CHECK_TIMEOUT_SECONDS = env_int("RUNBOARD_HEALTH_TIMEOUT", 2)
# /readyz fails when a backend's last successful sync is older than this: several sync intervals.
READY_MAX_SYNC_LAG_SECONDS = env_int("RUNBOARD_READY_MAX_SYNC_LAG", max(60, 10 * SYNC_INTERVAL_SECONDS))
# /metrics: with a token, only `Authorization: Bearer <token>`; without one, only clients on this machine.
METRICS_TOKEN = env_str("RUNBOARD_METRICS_TOKEN")
# Counts that grow with history (finished runs, schedule fires) are recounted at most this often per process.
METRICS_CACHE_SECONDS = env_int("RUNBOARD_METRICS_CACHE", 60)
LOG_FORMAT = env_str("RUNBOARD_LOG_FORMAT", "text").strip().lower() or "text"
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"RUNBOARD_LOG_FORMAT={LOG_FORMAT!r} is not one of text, json")
if LOG_FORMAT == "json":
    logging.captureWarnings(True)  # Python's warnings (Celery's, Django's) as log lines, so JSON too

# --- backends -------------------------------------------------------------------------------
# RUNBOARD_BACKENDS names a YAML file: {name: {engine: dotted.path.Class, options...}}.
RUNBOARD_BACKENDS_FILE = env_str("RUNBOARD_BACKENDS")
if RUNBOARD_BACKENDS_FILE and not Path(RUNBOARD_BACKENDS_FILE).is_file():
    raise ImproperlyConfigured(f"RUNBOARD_BACKENDS={RUNBOARD_BACKENDS_FILE!r} is not a file")
LOCAL_ENGINE_DIR = Path(env_str("RUNBOARD_LOCAL_ENGINE_DIR", str(VAR_DIR / "local-engine"))).resolve()
EXAMPLES_DIR = BASE_DIR / "examples"

# --- auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out login before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- security -------------------------------------------------------------------------------
# Login lockout: 5 failures for one username from one address lock that pair out for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The cool-off counts from the lockout, not from the latest try: attempts refused while locked are not recorded
# (axes' default records them, which restarts the 15 minutes on each one).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "dashboard.security.lockout_response"
AXES_CLIENT_IP_CALLABLE = "dashboard.security.client_ip"

# htmx gets the CSRF token from the page (<body hx-headers>), never by reading the cookie: it can be HttpOnly.
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "dashboard.security.csrf_failure"
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    # Load balancers and Prometheus often probe the web server directly, over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
if RUNBOARD_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# In every mode, so tests and development see a violation where production would: no inline script or style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing one
WHITENOISE_USE_FINDERS = True  # serve from the source folders: no collectstatic step on a fresh machine

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "dashboard.security.RedactSecretsFilter"}},
    # text: the message alone, as always; json (RUNBOARD_LOG_FORMAT=json): one object per line, with the
    # request, user, action and run it concerns (dashboard/logs.py). Celery's workers and beat use it too.
    "formatters": {
        "text": {"format": "%(message)s"},
        "json": {"()": "dashboard.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact_secrets"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # django-axes announces itself at INFO in every process, commands included; its login failures still show.
    # The Azure SDKs log every request and response at INFO.
    "loggers": {
        "axes.apps": {"level": "WARNING"},
        "azure": {"level": "WARNING"},
    },
}

# Where the dashboard is reached, for links printed by commands: RUNBOARD_URL, else where `serve` listens.
SERVE_URL_FILE = VAR_DIR / "url"
PUBLIC_URL = env_str("RUNBOARD_URL").rstrip("/") or (
    SERVE_URL_FILE.read_text().strip()
    if SERVE_URL_FILE.exists()
    else f"http://127.0.0.1:{env_int('PORT', 8000)}"
)
