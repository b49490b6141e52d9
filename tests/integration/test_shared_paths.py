"""On several hosts a step reads what the engine folder shares: its code snapshot, upstream outputs. A local input
path is read where the step runs: one the steps host does not see fails the step, saying so."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.base import RunStatus
from backends.local import executor
from backends.local.engine import submit_spec
from backends.local.models import LocalStep
from backends.local.spec import load_pipeline
from backends.local.stepexec import execute_step

pytestmark = pytest.mark.django_db
S = RunStatus

PIPELINE = """
type: pipeline
jobs:
  count:
    code: ./src
    command: python count.py ${{inputs.table}}
    inputs:
      table: {type: uri_file, path: ./data/table.csv}
"""


@pytest.fixture
def submitted(engine_dir, tmp_path: Path):
    """A run submitted from a folder (its code and its data), queued for a worker."""
    folder = tmp_path / "submitter"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "count.py").write_text("import sys\nprint(len(open(sys.argv[1]).readlines()))\n")
    (folder / "data").mkdir()
    (folder / "data" / "table.csv").write_text("a\nb\nc\n")
    (folder / "pipeline.yml").write_text(PIPELINE)
    run = submit_spec(load_pipeline(folder / "pipeline.yml"))
    step = run.steps.get(node_id="count")
    LocalStep.objects.filter(pk=step.pk).update(status=S.QUEUED)
    return folder, step


def test_a_step_runs_from_its_snapshot_in_the_engine_folder_not_the_submitters_code(submitted):
    folder, step = submitted
    (folder / "src" / "count.py").unlink()  # the submitter's folder is not where the step runs from

    execute_step(step.pk)

    step = LocalStep.objects.get(pk=step.pk)
    assert step.status == S.COMPLETED, step.error
    assert executor.log_path(step, "stdout").read_text().strip() == "3"
    snapshot = executor.snapshot_path(step.run.spec["jobs"]["count"]["snapshot"])
    assert (snapshot / "count.py").is_file() and snapshot.is_relative_to(executor.engine_dir())
    assert (executor.step_dir(step) / "wd" / "count.py").is_file()  # its working copy, in the engine folder


def test_a_local_input_this_host_does_not_see_fails_the_step_naming_it(submitted):
    folder, step = submitted
    (folder / "data" / "table.csv").unlink()  # as on a host that does not mount the submitter's folder

    execute_step(step.pk)

    step = LocalStep.objects.get(pk=step.pk)
    assert step.status == S.FAILED
    assert "input 'table'" in step.error and "is not on this host" in step.error
    assert str(folder / "data" / "table.csv") in step.error
