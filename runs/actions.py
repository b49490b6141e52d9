"""Actions on runs and published pipelines: what a user asks for, and what the task does against the backend."""

from __future__ import annotations

from typing import Any

from backends.base import RunStatus, Unsupported
from backends.registry import get_backend
from dashboard.actions import action_on
from dashboard.models import Action
from runs.models import Pipeline, PipelineRun, PublishedPipeline
from runs.sync import mirror_published, mirror_run

# --- requests (views call these) --------------------------------------------------------------


def run_cancel(*, run: PipelineRun, user, reason: str = "") -> Action:
    return action_on(run, kind=Action.Kind.CANCEL_RUN, target_type="run", user=user, reason=reason)


def run_resubmit(*, run: PipelineRun, user, reason: str = "", force_rerun: bool = True) -> Action:
    params = {"force_rerun": force_rerun}
    return action_on(
        run, kind=Action.Kind.RESUBMIT_RUN, target_type="run", user=user, reason=reason, params=params
    )


def run_publish(
    *,
    run: PipelineRun,
    user,
    name: str,
    description: str = "",
    version: str = "",
    continue_on_step_failure: bool = False,
    reason: str = "",
) -> Action:
    params = {
        "name": name,
        "description": description,
        "version": version,
        "continue_on_step_failure": continue_on_step_failure,
    }
    return action_on(
        run, kind=Action.Kind.PUBLISH_PIPELINE, target_type="run", user=user, reason=reason, params=params
    )


def published_set_enabled(*, published: PublishedPipeline, user, enabled: bool, reason: str = "") -> Action:
    kind = Action.Kind.ENABLE_PUBLISHED if enabled else Action.Kind.DISABLE_PUBLISHED
    params = {"enabled": enabled}
    return action_on(published, kind=kind, target_type="published", user=user, reason=reason, params=params)


def published_submit_action(
    *,
    published: PublishedPipeline,
    user,
    parameters: dict[str, Any],
    experiment: str = "",
    reason: str = "",
    enqueue: bool = True,
) -> Action:
    """A run of a published pipeline: enqueued from the page, or recorded for the REST API to carry out now."""
    params = {"parameters": parameters, "experiment": experiment}
    return action_on(
        published,
        kind=Action.Kind.SUBMIT_PUBLISHED,
        target_type="published",
        user=user,
        reason=reason,
        params=params,
        enqueue=enqueue,
    )


def pipeline_submit(
    *,
    pipeline: Pipeline,
    user,
    parameters: dict[str, Any],
    experiment: str = "",
    tags: dict[str, str] | None = None,
    reason: str = "",
) -> Action:
    """A run of a pipeline with the inputs given (those that differ from their defaults), from its page."""
    params = {"parameters": parameters, "experiment": experiment, "tags": tags or {}}
    return action_on(
        pipeline,
        kind=Action.Kind.SUBMIT_PIPELINE,
        target_type="pipeline",
        user=user,
        reason=reason,
        params=params,
    )


# --- handlers (the action task calls these) ---------------------------------------------------


def _user(action: Action) -> str:
    return action.requested_by.get_username() if action.requested_by else ""


def perform_cancel(action: Action) -> str:
    backend = get_backend(action.backend)
    before = backend.get_run(action.target_id)
    if RunStatus.is_terminal(before.status):
        mirror_run(backend, before)
        return f"The run had already ended ({before.status}); nothing to cancel."
    status = backend.cancel_run(action.target_id)
    mirror_run(backend, backend.get_run(action.target_id))
    return f"Cancel requested (the backend answered {status})."


def perform_resubmit(action: Action) -> str:
    backend = get_backend(action.backend)
    force = bool(action.params.get("force_rerun", True))
    info = backend.resubmit_run(action.target_id, force_rerun=force, submitted_by=_user(action))
    run = mirror_run(backend, info)
    action.outcome = {"run": run.pk}
    how = "every step runs again" if force else "completed steps are reused"
    return f"Submitted run {info.id} ({how})."


def perform_publish(action: Action) -> str:
    backend = get_backend(action.backend)
    p = action.params
    info = backend.publish_pipeline(
        action.target_id,
        p["name"],
        p.get("description", ""),
        p.get("version", ""),
        bool(p.get("continue_on_step_failure")),
    )
    published = mirror_published(backend, info, published_by=_user(action))
    action.outcome = {"published": published.pk}
    return f"Published {published}."


def perform_submit_published(action: Action) -> str:
    backend = get_backend(action.backend)
    info = backend.submit_run(
        published_id=action.target_id,
        parameters=action.params.get("parameters") or {},
        experiment=action.params.get("experiment", ""),
        submitted_by=_user(action),
    )
    run = mirror_run(backend, info)
    action.outcome = {"run": run.pk, "run_id": info.id}
    return f"Submitted run {info.id}."


def perform_set_published_enabled(action: Action) -> str:
    backend = get_backend(action.backend)
    info = backend.set_published_pipeline_enabled(action.target_id, bool(action.params["enabled"]))
    published = mirror_published(backend, info)
    return f"{published} is {info.status}."


def perform_submit_pipeline(action: Action) -> str:
    backend = get_backend(action.backend)
    # A backend that cannot start what it holds refuses below, saying so; one that runs YAML files says how.
    if not backend.supports("submit_run") and backend.supports("submit_file"):
        raise Unsupported(
            f"backend {backend.name} cannot start a run of a pipeline it holds; submit the pipeline's YAML "
            f"instead (manage.py submit FILE --backend {backend.name})"
        )
    info = backend.submit_run(
        pipeline_id=action.target_id,
        parameters=action.params.get("parameters") or {},
        experiment=action.params.get("experiment", ""),
        tags=action.params.get("tags") or {},
        submitted_by=_user(action),
    )
    run = mirror_run(backend, info)
    action.outcome = {"run": run.pk, "run_id": info.id}
    return f"Submitted run {info.id}."
