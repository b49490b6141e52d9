"""Celery tasks of the local engine. Thin: they take ids and call the executor."""

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown

from backends.local import executor, stepexec
from backends.local.models import LocalStep
from dashboard.logs import log_context

STEPS_QUEUE = "steps"
_reapers = []


@shared_task(ignore_result=True, acks_late=False)
def run_step(step_id: str) -> None:
    # At most once: a step is a process with side effects; a worker that dies mid-step is
    # caught by its missing heartbeat, not by running the step a second time.
    run_id = LocalStep.objects.filter(pk=step_id).values_list("run_id", flat=True).first()
    with log_context(run_id=run_id):
        stepexec.execute_step(step_id)


@shared_task(ignore_result=True)
def check_heartbeats() -> None:
    executor.check_heartbeats()
    executor.send_unsent_steps()  # queued while Redis did not answer


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def fire_schedules() -> None:
    from backends.local import scheduler

    scheduler.fire_due_schedules()


@worker_ready.connect
def start_reaper(sender, **kwargs) -> None:
    """A worker that runs steps reaps its host's leftovers: one per host at least, whatever beat does."""
    if STEPS_QUEUE not in sender.app.amqp.queues.consume_from:
        return
    from backends.local.reaper import Reaper

    reaper = Reaper()
    reaper.start()
    _reapers.append(reaper)


@worker_shutdown.connect
def stop_reaper(**kwargs) -> None:
    while _reapers:
        _reapers.pop().stop()
