from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        from dashboard import (
            checks,  # noqa: F401  (registers the system checks)
            deadline,  # noqa: F401  (bounds every SQLite query a request makes)
        )
