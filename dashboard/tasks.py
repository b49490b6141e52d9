from celery import shared_task

from dashboard import actions
from dashboard.logs import log_context


@shared_task(bind=True, acks_late=True, max_retries=None, soft_time_limit=120, time_limit=180)
def execute_action(self, action_id: int) -> None:
    with log_context(action_id=action_id):
        try:
            actions.action_perform(action_id)
        except actions.RetryLater as exc:
            raise self.retry(countdown=exc.countdown) from exc


@shared_task(ignore_result=True)
def requeue_stale_actions() -> None:
    actions.requeue_stale_actions()
