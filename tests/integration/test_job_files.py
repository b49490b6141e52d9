"""Azure ML CLI v2 files run end to end by the local engine: a real Celery worker, real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends.base import RunStatus
from tests.integration.helpers import EXAMPLES, read_whole_log, steps_by_node, submit, wait_for_status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TERMINAL = set(RunStatus.TERMINAL)


def test_a_pipeline_with_a_pipeline_component_runs_its_jobs_as_steps_of_the_run(celery_worker):
    run_id = submit(EXAMPLES / "pipeline-component" / "pipeline.yml", epochs=20)

    assert wait_for_status(run_id, TERMINAL, timeout=90) == RunStatus.COMPLETED
    steps = steps_by_node(run_id)
    assert list(steps) == [
        "prep",
        "careful.train",
        "careful.evaluate",
        "quick.train",
        "quick.evaluate",
        "compare",
    ]
    assert all(s.status == RunStatus.COMPLETED for s in steps.values())
    # Each component's evaluate read the model its own train wrote, with the learning rate its node gave.
    assert "--learning_rate 0.05 --epochs 20" in steps["careful.train"].command
    assert "--learning_rate 0.3 --epochs 100" in steps["quick.train"].command
    assert steps["careful.evaluate"].inputs["model"] == steps["careful.train"].outputs["model"]
    metrics = json.loads(Path(steps["quick.evaluate"].outputs["report"], "metrics.json").read_text())
    compared = read_whole_log(run_id, steps["compare"].id, "stdout")
    assert compared.startswith("careful:") and f'"rmse": {metrics["rmse"]}' in compared
