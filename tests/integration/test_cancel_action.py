"""Cancel through the action path: an Action row, its task on a real worker, the backend, the mirror."""

from __future__ import annotations

import pytest
from django.db import transaction

from backends.base import RunStatus
from dashboard.actions import MAX_ATTEMPTS, RetryLater, action_perform
from dashboard.models import Action
from runs.actions import run_cancel
from runs.models import PipelineRun
from runs.sync import sync_backend, sync_run
from tests import factories
from tests.integration.helpers import PIPELINES, submit, wait_for, wait_for_status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_cancel_action_cancels_the_run_and_records_the_outcome(celery_worker, operator):
    run_id = submit(PIPELINES / "sleeper.yml")
    wait_for_status(run_id, {RunStatus.RUNNING})
    run = sync_run("local", run_id)

    with transaction.atomic():
        action = run_cancel(run=run, user=operator, reason="wrong parameters")

    action = wait_for(
        lambda: Action.objects.filter(pk=action.pk, status=Action.Status.SUCCEEDED).first(),
        what="the action to succeed",
    )
    assert action.attempts == 1
    assert action.reason == "wrong parameters" and action.requested_by == operator
    assert action.finished_at is not None
    wait_for_status(run_id, set(RunStatus.TERMINAL), timeout=5)
    sync_backend("local")
    assert PipelineRun.objects.get(pk=run.pk).status == RunStatus.CANCELED


def test_cancelling_a_finished_run_succeeds_and_says_so(celery_worker, operator):
    run_id = submit(PIPELINES / "two_steps.yml", greeting="finished")
    wait_for_status(run_id, set(RunStatus.TERMINAL))
    run = sync_run("local", run_id)

    with transaction.atomic():
        action = run_cancel(run=run, user=operator)

    action = wait_for(
        lambda: Action.objects.filter(pk=action.pk).exclude(status__in=["pending", "running"]).first()
    )
    assert action.status == Action.Status.SUCCEEDED
    assert "already ended (Completed)" in action.result


def _action_on(backend: str, user) -> Action:
    return factories.action(backend=backend, target_id="r1", user=user)


def test_an_unavailable_backend_is_retried_then_the_action_fails(configure_backends, operator):
    configure_backends({"azure-prod": {"engine": "tests.fakes.UnreachableBackend"}})
    action = _action_on("azure-prod", operator)

    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(RetryLater):
            action_perform(action.pk)
        action.refresh_from_db()
        # Back to pending until the retry, which only a pending action can claim.
        assert action.status == Action.Status.PENDING and action.attempts == attempt
        assert action.next_attempt_at is not None and "retrying" in action.error
    action = action_perform(action.pk)

    assert action.status == Action.Status.FAILED
    assert action.attempts == MAX_ATTEMPTS
    assert "connection refused" in action.error


def test_a_refusing_backend_fails_the_action_with_its_message(configure_backends, operator):
    configure_backends({"azure-prod": {"engine": "tests.fakes.RefusingBackend"}})

    action = action_perform(_action_on("azure-prod", operator).pk)

    assert action.status == Action.Status.FAILED
    assert action.error == "run r1 is locked by the workspace"
    assert action_perform(action.pk).attempts == 1  # a finished action is not carried out again
