"""A Redis that is frozen (SIGSTOP) or dead: an action's POST answers within the queue's timeout, the action stays
pending and says it is queued, and it is sent when Redis answers again. Nothing hangs, nothing is lost."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis
from django.conf import settings

from dashboard.actions import requeue_stale_actions
from dashboard.celery import app as celery_app
from dashboard.models import Action
from dashboard.redis_server import EmbeddedRedis
from tests import factories
from tests.conftest import _broker, _reset_broker_pool

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test's own on a TCP port, as the task queue of this process."""
    server = EmbeddedRedis(tmp_path / "redis", port=_free_port(), persist=False)
    url = server.start()
    old = settings.REDIS_URL, celery_app.conf.broker_url
    settings.REDIS_URL, celery_app.conf.broker_url = url, _broker(url)
    _reset_broker_pool()
    yield server
    if server.process and server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()
    settings.REDIS_URL, celery_app.conf.broker_url = old
    _reset_broker_pool()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def queued(server: EmbeddedRedis) -> int:
    return redis.Redis.from_url(server.url, socket_timeout=5).llen("runboard")


def disable(client, schedule) -> tuple[float, Action]:
    started = time.monotonic()
    answer = client.post(f"/schedules/{schedule.pk}/status", {"enabled": "0", "next": "/schedules/"})
    took = time.monotonic() - started
    assert answer.status_code == 302, answer.content[:500]
    return took, Action.objects.get(target_id=schedule.external_id)


@pytest.mark.parametrize("fault", ["frozen", "dead"])
def test_an_action_asked_for_while_redis_is_down_answers_at_once_and_is_sent_later(
    fault, own_redis, manager_client
):
    schedule = factories.schedule(name="nightly")
    requeue_stale_actions()  # the queue's connection is made while Redis answers
    pid = own_redis.process.pid
    os.kill(pid, signal.SIGSTOP if fault == "frozen" else signal.SIGKILL)
    try:
        took, action = disable(manager_client, schedule)
        print(f"{fault} Redis: the POST answered in {took:.2f} s")
        assert took < settings.QUEUE_TIMEOUT_SECONDS * 2 + 2, f"the POST took {took:.1f} s"
        assert action.status == Action.Status.PENDING and action.waits_for_queue
        assert action.under_way == "Disabling… (queued)"
        page = manager_client.get("/schedules/").content.decode()
        assert "Disabling… (queued)" in page
        assert requeue_stale_actions() == []  # still down: it stays pending, nothing is lost
        assert Action.objects.get(pk=action.pk).waits_for_queue
    finally:
        if fault == "frozen":
            os.kill(pid, signal.SIGCONT)
        else:
            own_redis.process.wait()
            own_redis.start()
            _reset_broker_pool()

    assert requeue_stale_actions() == [action.pk]  # Redis answers again: sent
    assert queued(own_redis) == 1
    action.refresh_from_db()
    assert action.status == Action.Status.PENDING and not action.waits_for_queue


@pytest.mark.parametrize("fault", ["frozen", "dead"])
def test_a_step_queued_while_redis_is_down_is_sent_when_it_answers(fault, own_redis, engine_dir):
    from backends.local import executor
    from backends.local.engine import submit_spec
    from backends.local.models import LocalStep
    from backends.local.spec import load_pipeline
    from tests.integration.helpers import PIPELINES

    executor.send_unsent_steps()  # the queue's connection is made while Redis answers
    pid = own_redis.process.pid
    os.kill(pid, signal.SIGSTOP if fault == "frozen" else signal.SIGKILL)
    try:
        started = time.monotonic()
        run = submit_spec(load_pipeline(PIPELINES / "two_steps.yml"))  # queues its first step: not an error
        assert time.monotonic() - started < settings.QUEUE_TIMEOUT_SECONDS * 2 + 2
        first = LocalStep.objects.get(run=run, status="Queued")
        assert not first.sent
        assert executor.send_unsent_steps() == []  # still down: it stays Queued, unsent
    finally:
        if fault == "frozen":
            os.kill(pid, signal.SIGCONT)
        else:
            own_redis.process.wait()
            own_redis.start()
            _reset_broker_pool()

    assert executor.send_unsent_steps() == [first.pk]
    assert LocalStep.objects.get(pk=first.pk).sent
    assert redis.Redis.from_url(own_redis.url, socket_timeout=5).llen("steps") == 1
