from celery import shared_task

from backends import registry
from dashboard.logs import log_context
from runs import sync


@shared_task(ignore_result=True)
def sync_all_backends() -> None:
    # One task per backend, so a slow or failing backend never holds up the others.
    for name in registry.names():
        sync_backend.delay(name)


@shared_task(ignore_result=True, soft_time_limit=100, time_limit=120)
def sync_backend(name: str) -> None:
    with log_context(backend=name):
        sync.sync_backend(name)
