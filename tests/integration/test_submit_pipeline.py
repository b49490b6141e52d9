"""Starting a pipeline from its page through the action path: the form's POST, an Action row, its task on a real
worker, the local engine running the steps with the inputs given, the mirror."""

from __future__ import annotations

import pytest
from django.urls import reverse

from backends.base import RunStatus
from backends.local.engine import register_pipeline_file
from backends.registry import get_backend
from dashboard.models import Action
from runs.models import Pipeline, PipelineRun
from runs.sync import sync_backend, sync_pipelines
from tests.integration.helpers import PIPELINES, read_whole_log, steps_by_node, wait_for, wait_for_status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def typed(engine_dir) -> Pipeline:
    register_pipeline_file(PIPELINES / "typed_inputs.yml")
    sync_pipelines(get_backend("local"))
    return Pipeline.objects.get(backend="local", external_id="typed_inputs")


def test_a_submitted_form_becomes_a_run_with_its_inputs_experiment_and_tags(
    celery_worker, operator_client, operator, typed
):
    response = operator_client.post(
        reverse("runs:pipeline_submit", args=[typed.pk]),
        {
            "input_epochs": "12",
            "input_rate": "0.25",
            "input_mode": "careful",
            "input_verbose": "true",
            "input_label": "from the page",
            "input_note": "second",
            "experiment": "page-runs",
            "tags": "team=vision",
            "reason": "longer training",
        },
    )
    assert response.status_code == 302

    action = wait_for(
        lambda: Action.objects.exclude(status__in=["pending", "running"]).first(),
        what="the worker to carry out the action",
    )
    assert action.status == Action.Status.SUCCEEDED, action.error
    assert (action.kind, action.requested_by, action.attempts) == (Action.Kind.SUBMIT_PIPELINE, operator, 1)
    run = PipelineRun.objects.get(pk=action.outcome["run"])
    assert action.result == f"Submitted run {run.external_id}."
    assert run.pipeline == typed and run.submitted_by == "operator"
    assert run.experiment_name == "page-runs" and run.tags == {"team": "vision"}

    assert wait_for_status(run.external_id, set(RunStatus.TERMINAL)) == RunStatus.COMPLETED
    step = steps_by_node(run.external_id)["train"]
    assert read_whole_log(run.external_id, step.id, "stdout").strip() == (
        "epochs=12 rate=0.25 mode=careful verbose=True label=from the page note=second"
    )
    sync_backend("local")
    page = operator_client.get(typed.get_absolute_url()).content.decode()
    assert f'<a href="{run.get_absolute_url()}">open the run</a>' in page
