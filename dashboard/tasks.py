from celery import shared_task

from dashboard.actions import RetryLater, action_perform


@shared_task(bind=True, acks_late=True, max_retries=None, soft_time_limit=120, time_limit=180)
def execute_action(self, action_id: int) -> None:
    try:
        action_perform(action_id)
    except RetryLater as exc:
        raise self.retry(countdown=min(2**exc.attempts, 60)) from exc
