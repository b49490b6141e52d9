from django.apps import AppConfig


class LocalEngineConfig(AppConfig):
    name = "backends.local"
    label = "local_engine"
    verbose_name = "Local engine"
