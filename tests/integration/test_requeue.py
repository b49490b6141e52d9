"""No requested action is lost: Redis restarts and drops the queued task; the beat task enqueues it again."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backends.base import RunStatus
from backends.local.engine import submit_spec
from backends.local.spec import load_pipeline
from dashboard.actions import requeue_stale_actions
from dashboard.celery import app as celery_app
from dashboard.models import Action
from dashboard.redis_server import EmbeddedRedis
from runs.actions import run_cancel
from runs.sync import sync_run
from tests import factories
from tests.conftest import _broker, _database_url, _reset_broker_pool, start_celery, stop_process
from tests.integration.helpers import PIPELINES, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own that keeps nothing on disk (a restart loses its queues), and that no worker
    reads unless the test starts one: what the test enqueues stays put while it looks."""
    server = EmbeddedRedis(tmp_path / "redis", persist=False)
    url = server.start()
    old = settings.REDIS_URL, celery_app.conf.broker_url
    settings.REDIS_URL, celery_app.conf.broker_url = url, _broker(url)
    _reset_broker_pool()
    yield server, url
    settings.REDIS_URL, celery_app.conf.broker_url = old
    _reset_broker_pool()
    server.stop()


def test_an_action_lost_in_a_redis_restart_is_requeued_and_carried_out(
    private_redis, engine_dir, operator, tmp_path
):
    server, url = private_redis
    local_run = submit_spec(load_pipeline(PIPELINES / "sleeper.yml"))
    run = sync_run("local", local_run.pk)
    with transaction.atomic():
        action = run_cancel(run=run, user=operator, reason="stop it")
    queued = redis.Redis.from_url(url)
    assert queued.llen("runboard") == 1  # the task waits in Redis: no worker is running yet

    server.stop()
    server.start()
    _reset_broker_pool()
    assert redis.Redis.from_url(url).llen("runboard") == 0  # Redis came back empty: the task is gone

    worker = start_celery(
        "worker",
        "-Q",
        "runboard",
        "-c",
        "1",
        "--without-gossip",
        "--without-mingle",
        env={"REDIS_URL": url, "DATABASE_URL": _database_url(), "RUNBOARD_LOCAL_ENGINE_DIR": str(engine_dir)},
        log=tmp_path / "worker.log",
    )
    try:
        time.sleep(3)
        assert Action.objects.get(pk=action.pk).status == Action.Status.PENDING  # nobody knows of it

        requeued = requeue_stale_actions(now=timezone.now() + timedelta(minutes=2))

        assert requeued == [action.pk]
        done = wait_for(
            lambda: Action.objects.filter(pk=action.pk, status=Action.Status.SUCCEEDED).first(),
            timeout=30,
            what="the requeued action to succeed",
        )
    finally:
        stop_process(worker)
    assert done.attempts == 1
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELED


def test_recent_pending_and_finished_actions_are_not_requeued(operator, redis_url):
    fresh = factories.action(target_id="a", user=operator)
    old_done = factories.action(
        target_id="b", user=operator, status="succeeded", requested_at=timezone.now() - timedelta(hours=1)
    )
    waiting_retry = factories.action(
        target_id="c",
        user=operator,
        requested_at=timezone.now() - timedelta(hours=1),
        next_attempt_at=timezone.now() + timedelta(seconds=30),
    )

    assert requeue_stale_actions() == []
    assert {fresh.pk, old_done.pk, waiting_retry.pk}.isdisjoint(requeue_stale_actions())


def test_an_action_whose_worker_died_goes_back_to_pending_and_is_requeued(private_redis, operator):
    stuck = factories.action(
        target_id="d",
        user=operator,
        status="running",
        attempts=1,
        requested_at=timezone.now() - timedelta(hours=1),
        started_at=timezone.now() - timedelta(hours=1),
    )

    assert requeue_stale_actions() == [stuck.pk]
    stuck.refresh_from_db()
    assert stuck.status == Action.Status.PENDING and "stopped" in stuck.error
    assert redis.Redis.from_url(private_redis[1]).llen("runboard") == 1  # enqueued, and nobody took it yet
