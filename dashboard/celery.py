import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import dashboard.logs  # noqa: F401  (its signal handlers: workers and beat log in RUNBOARD_LOG_FORMAT)

app = Celery("runboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["backends.local"])
