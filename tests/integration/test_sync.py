"""Sync fills the mirror from a backend, incrementally, one sync per backend at a time."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backends.base import RunStatus
from backends.registry import get_backend
from dashboard.models import BackendState
from runs.models import Pipeline, PipelineRun
from runs.sync import backend_lock, sync_backend
from tests.integration.helpers import PIPELINES, submit, wait_for, wait_for_status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TERMINAL = set(RunStatus.TERMINAL)


def test_sync_fills_the_mirror_with_pipelines_runs_steps_and_edges(celery_worker):
    run_id = submit(PIPELINES / "two_steps.yml", greeting="hi")
    wait_for_status(run_id, TERMINAL)

    result = sync_backend("local")

    assert result.ran and not result.error
    run = PipelineRun.objects.get(backend="local", external_id=run_id)
    assert run.status == RunStatus.COMPLETED
    assert run.pipeline == Pipeline.objects.get(backend="local", external_id="two_steps")
    assert run.parameters == {"greeting": "hi"}
    assert [(s.node_id, s.status) for s in run.steps.all()] == [
        ("write", RunStatus.COMPLETED),
        ("read", RunStatus.COMPLETED),
    ]
    assert [str(e) for e in run.edges.all()] == ["write.out → read.message"]
    state = BackendState.objects.get(name="local")
    assert state.healthy and state.watermark == get_backend("local").get_run(run_id).updated_at


def test_sync_reads_only_changed_runs_and_non_terminal_ones(celery_worker):
    done = submit(PIPELINES / "two_steps.yml", greeting="old")
    wait_for_status(done, TERMINAL)
    active = submit(PIPELINES / "sleeper.yml")
    wait_for_status(active, {RunStatus.RUNNING})
    engine = get_backend("local")

    changed = engine.list_runs(changed_since=timezone.now())

    assert [r.id for r in changed] == [active]
    engine.cancel_run(active)
    wait_for_status(active, TERMINAL)


def test_sync_follows_a_run_until_it_ends(celery_worker):
    run_id = submit(PIPELINES / "sleeper.yml")
    wait_for_status(run_id, {RunStatus.RUNNING})
    sync_backend("local")
    assert PipelineRun.objects.get(external_id=run_id).status == RunStatus.RUNNING

    get_backend("local").cancel_run(run_id)
    wait_for_status(run_id, TERMINAL)
    sync_backend("local")

    mirrored = PipelineRun.objects.get(external_id=run_id)
    assert mirrored.status == RunStatus.CANCELED
    assert {s.status for s in mirrored.steps.all()} == {RunStatus.CANCELED}


def test_only_one_sync_of_a_backend_runs_at_a_time(redis_url):
    with backend_lock("local") as held:
        assert held
        assert sync_backend("local").ran is False


def test_a_failing_backend_is_recorded_and_the_others_carry_on(celery_worker, configure_backends):
    configure_backends(
        {"local": {"engine": "local"}, "azure-prod": {"engine": "tests.fakes.UnreachableBackend"}}
    )
    run_id = submit(PIPELINES / "two_steps.yml", greeting="still here")
    wait_for_status(run_id, TERMINAL)

    failed = sync_backend("azure-prod")
    ok = sync_backend("local")

    assert "connection refused" in failed.error
    state = BackendState.objects.get(name="azure-prod")
    assert not state.healthy and state.consecutive_failures == 1
    assert state.next_attempt_at > timezone.now()  # backs off before trying again
    assert sync_backend("azure-prod").ran is False
    assert ok.error == "" and PipelineRun.objects.filter(external_id=run_id).exists()


def test_celery_beat_keeps_the_mirror_in_sync_by_itself(celery_beat):
    run_id = submit(PIPELINES / "two_steps.yml", greeting="beat")

    run = wait_for(
        lambda: PipelineRun.objects.filter(external_id=run_id, status=RunStatus.COMPLETED).first(),
        timeout=20,
        what="beat's sync to mirror the finished run",
    )
    assert run.steps.count() == 2
