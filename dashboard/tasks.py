from celery import shared_task

from dashboard import actions


@shared_task(bind=True, acks_late=True, max_retries=None, soft_time_limit=120, time_limit=180)
def execute_action(self, action_id: int) -> None:
    try:
        actions.action_perform(action_id)
    except actions.RetryLater as exc:
        raise self.retry(countdown=exc.countdown) from exc


@shared_task(ignore_result=True)
def requeue_stale_actions() -> None:
    actions.requeue_stale_actions()
