"""A finished step of the local engine with the files a test gives it: in its artifacts (./outputs), in its ``out``
output, and in its code snapshot. Nothing runs: the files are written here, and the run is mirrored by sync."""

from __future__ import annotations

from pathlib import Path

from backends.base import RunStatus
from backends.local import executor, runtime
from backends.local.engine import submit_spec
from backends.local.models import LocalStep
from backends.local.spec import load_pipeline
from runs.models import PipelineRun
from runs.sync import sync_run
from tests.integration.helpers import PIPELINES

Files = dict[str, bytes | str]


def write_files(root: Path, files: Files) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
    return root


def run_with_files(
    monkeypatch,
    tmp_path: Path,
    *,
    artifacts: Files | None = None,
    out: Files | None = None,
    code: Files | None = None,
    status: str = RunStatus.COMPLETED,
) -> PipelineRun:
    """A run of two_steps.yml whose step ``write`` holds these files; ``code`` becomes its snapshot."""
    monkeypatch.setattr(executor, "advance", lambda run_id: None)
    run = submit_spec(load_pipeline(PIPELINES / "two_steps.yml"))
    step = run.steps.get(node_id="write")
    folder = executor.step_dir(step)
    outputs = {
        runtime.ARTIFACTS: str(write_files(folder / "wd" / "outputs", artifacts or {})),
        "out": str(write_files(folder / "outputs" / "out", out or {})),
    }
    snapshot = ""
    if code is not None:
        snapshot = runtime.take_snapshot(write_files(tmp_path / "code", code), executor.snapshots_dir())
    LocalStep.objects.filter(pk=step.pk).update(status=status, outputs=outputs, snapshot=snapshot)
    return sync_run("local", run.pk)


def output_path(run: PipelineRun, output: str = runtime.ARTIFACTS) -> Path:
    return Path(run.steps.get(node_id="write").outputs[output])
