"""The environments page: every role reads what the local engine built (definition, size, last use, build log);
operators remove one through an Action, which is refused while a step runs in it."""

from __future__ import annotations

import pytest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from backends.base import RunStatus
from backends.local import environments
from backends.local.environment_models import LocalEnvironment
from backends.local.models import LocalStep
from dashboard.actions import action_perform
from dashboard.models import Action
from runs.models import PipelineRun
from tests import factories

pytestmark = pytest.mark.django_db
LIST = reverse("environment_list")


@pytest.fixture
def built(own_engine_dir, tmp_path) -> tuple[LocalEnvironment, LocalStep]:
    return factories.built_environment(tmp_path / "pipeline")


def test_the_page_lists_each_environment_with_its_definition_size_and_last_use(viewer_client, built):
    environment, step = built
    run = PipelineRun.objects.get(backend="local", external_id=step.run_id)

    page = viewer_client.get(LIST).content.decode()

    assert environment.pk in page and "pip · Python" in page
    assert "tabulate==0.9.0" in page  # the definition, and what pip installs
    assert environment.size_bytes > 1_000_000 and f"{filesizeformat(environment.size_bytes)}</td>" in page
    assert "by 1 step" in page
    assert reverse("runs:step_log", args=[run.pk, "step", "system"]) in page
    assert reverse("environment_log", args=[environment.pk]) in page
    assert "Remove" not in page  # a viewer may not


def test_the_build_log_page_shows_uvs_output(viewer_client, built):
    environment, _ = built

    page = viewer_client.get(reverse("environment_log", args=[environment.pk])).content.decode()

    assert "$ uv pip install" in page and "+ tabulate==0.9.0" in page and "Built in" in page


def test_a_failed_build_shows_its_error_and_its_log(viewer_client, own_engine_dir, tmp_path):
    step, job = factories.preparing_step(
        tmp_path, factories.requirements_environment(tmp_path, "runboard-no-such-package-4711==1.0\n")
    )
    with pytest.raises(environments.EnvironmentUnavailable):
        environments.prepare(step, job, build=True)
    failed = LocalEnvironment.objects.get()

    page = viewer_client.get(LIST).content.decode()
    log = viewer_client.get(reverse("environment_log", args=[failed.pk])).content.decode()

    assert "Failed" in page and "runboard-no-such-package-4711 was not found" in page
    assert "Failed: " in log and "runboard-no-such-package-4711" in log


def test_an_operator_removes_an_environment_through_an_action(
    operator_client, operator, built, django_capture_on_commit_callbacks
):
    environment, _ = built
    assert "Remove" in operator_client.get(LIST).content.decode()

    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        response = operator_client.post(
            reverse("environment_remove", args=[environment.pk]), {"reason": "disk"}
        )

    assert response.status_code == 302
    action = Action.objects.get()
    assert (action.kind, action.target_id, action.requested_by, action.reason) == (
        Action.Kind.REMOVE_ENVIRONMENT,
        environment.pk,
        operator,
        "disk",
    )
    assert len(enqueued) == 1
    assert f"action #{action.pk}" in operator_client.get(LIST).content.decode()  # asked, not done yet

    assert action_perform(action.pk).status == Action.Status.SUCCEEDED
    assert not LocalEnvironment.objects.exists()
    assert not environments.folder(environment.pk).exists()
    assert "No environments built yet" in operator_client.get(LIST).content.decode()


def test_removing_an_environment_a_step_runs_in_fails_the_action_saying_so(operator_client, built):
    environment, step = built
    LocalStep.objects.filter(pk=step.pk).update(status=RunStatus.RUNNING)
    operator_client.post(reverse("environment_remove", args=[environment.pk]))

    action = action_perform(Action.objects.get().pk)

    assert action.status == Action.Status.FAILED
    assert f"is in use by step step of run {step.run_id}" in action.error
    assert LocalEnvironment.objects.get().status == LocalEnvironment.Status.READY
    assert environments.folder(environment.pk).exists()


def test_a_viewer_may_not_remove_an_environment(viewer_client, built):
    environment, _ = built

    response = viewer_client.post(reverse("environment_remove", args=[environment.pk]))

    assert response.status_code == 403
    assert (
        not Action.objects.exists() and LocalEnvironment.objects.get().status == LocalEnvironment.Status.READY
    )


def test_reading_the_page_needs_a_role(stranger_client):
    assert stranger_client.get(LIST).status_code == 403


@pytest.mark.parametrize("key", ["0123456789abcdef", "not-a-key", "0123456789ABCDEF"])
def test_an_unknown_environment_is_not_found(viewer_client, operator_client, key):
    assert viewer_client.get(reverse("environment_log", args=[key])).status_code == 404
    assert operator_client.post(reverse("environment_remove", args=[key])).status_code == 404
    assert not Action.objects.exists()


def test_the_page_says_when_building_is_off(viewer_client, configure_backends, monkeypatch):
    monkeypatch.setenv("RUNBOARD_BUILD_ENVIRONMENTS", "0")
    configure_backends({"local": {"engine": "local"}})

    page = viewer_client.get(LIST).content.decode()

    assert "Building is off" in page and "No environments built yet" in page
