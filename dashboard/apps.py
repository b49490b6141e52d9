from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        from django.urls import register_converter

        from dashboard.converters import IdConverter, OffsetConverter

        register_converter(IdConverter, "id")
        register_converter(OffsetConverter, "offset")
        from dashboard import (
            checks,  # noqa: F401  (registers the system checks)
            deadline,  # noqa: F401  (bounds every SQLite query a request makes)
        )
