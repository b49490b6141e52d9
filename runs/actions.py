"""Actions on runs: what a user asks for, and what the task does against the backend."""

from __future__ import annotations

from backends.base import RunStatus
from backends.registry import get_backend
from dashboard.actions import action_request
from dashboard.models import Action
from runs.models import PipelineRun
from runs.sync import mirror_run


def run_cancel(*, run: PipelineRun, user, reason: str = "") -> Action:
    return action_request(
        kind=Action.Kind.CANCEL_RUN,
        backend=run.backend,
        target_type="run",
        target_id=run.external_id,
        target_label=str(run),
        user=user,
        reason=reason,
    )


def perform_cancel(action: Action) -> str:
    backend = get_backend(action.backend)
    before = backend.get_run(action.target_id)
    if RunStatus.is_terminal(before.status):
        mirror_run(backend, before)
        return f"The run had already ended ({before.status}); nothing to cancel."
    status = backend.cancel_run(action.target_id)
    mirror_run(backend, backend.get_run(action.target_id))
    return f"Cancel requested; the run is {status}."
