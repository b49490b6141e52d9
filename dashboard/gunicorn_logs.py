"""gunicorn's own log lines (its master starting, workers booting or timing out) in RUNBOARD_LOG_FORMAT, with
secrets redacted like every other line. gunicorn loads it by name: `--logger-class
dashboard.gunicorn_logs.GunicornLogger` (manage.py serve, deploy/runboard-web.service)."""

from __future__ import annotations

import os

from gunicorn.glogging import Logger

from dashboard.logs import JsonFormatter
from dashboard.security import RedactSecretsFilter


class GunicornLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        # The environment, not Django's settings: gunicorn's master logs before any worker loads Django.
        as_json = os.environ.get("RUNBOARD_LOG_FORMAT", "").strip().lower() == "json"
        for handler in [*self.error_log.handlers, *self.access_log.handlers]:
            if not any(isinstance(f, RedactSecretsFilter) for f in handler.filters):
                handler.addFilter(RedactSecretsFilter())
            if as_json:
                handler.setFormatter(JsonFormatter())
