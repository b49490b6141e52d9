"""Mirror a backend's schedules and their fires."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from backends.base import Backend, ScheduleInfo, Unsupported
from dashboard.public import public_message
from runs.freshness import holds_newer
from runs.models import Pipeline, PipelineRun, PublishedPipeline
from schedules.models import Schedule, ScheduleFire


def sync_schedules(backend: Backend) -> None:
    try:
        infos = backend.list_schedules()
    except Unsupported:
        return  # a backend without schedules
    for info in infos:
        mirror_schedule(backend, info)


def mirror_schedule(backend: Backend, info: ScheduleInfo) -> Schedule:
    pipeline = Pipeline.objects.filter(backend=backend.name, external_id=info.pipeline_id).first()
    published = None
    if info.published_pipeline_id:
        published = (
            PublishedPipeline.objects.filter(
                backend=backend.name, external_id=info.published_pipeline_id
            ).first()
            or PublishedPipeline.objects.filter(backend=backend.name, name=info.published_pipeline_id)
            .order_by("-created_at")
            .first()
        )
    with transaction.atomic():
        existing = Schedule.objects.filter(backend=backend.name, external_id=info.id)
        if holds_newer(existing, "updated_at", info.updated_at):
            return existing.get()  # read before a change the mirror already holds
        return _write_schedule(backend, info, pipeline, published)


def _write_schedule(backend: Backend, info: ScheduleInfo, pipeline, published) -> Schedule:
    schedule, _ = Schedule.objects.update_or_create(
        backend=backend.name,
        external_id=info.id,
        defaults={
            "name": info.name,
            "display_name": info.display_name,
            "description": info.description,
            "enabled": info.enabled,
            "trigger": info.trigger,
            "kind": info.trigger.get("type", ""),
            "pipeline": pipeline,
            "published_pipeline": published,
            "target_label": info.published_pipeline_id or info.pipeline_id,
            "experiment_name": info.experiment_name,
            "parameters": info.parameters,
            "tags": info.tags,
            "definition": info.definition,
            "missing": public_message(info.missing),
            "created_at": info.created_at,
            "updated_at": info.updated_at,
        },
    )
    return schedule


def sync_fires(backend: Backend, changed_since: datetime | None) -> None:
    try:
        fires = backend.list_fires(changed_since)
    except Unsupported:
        return
    if not fires:
        return
    schedules = dict(Schedule.objects.filter(backend=backend.name).values_list("external_id", "pk"))
    run_ids = {f.run_id for f in fires if f.run_id}
    runs = dict(
        PipelineRun.objects.filter(backend=backend.name, external_id__in=run_ids).values_list(
            "external_id", "pk"
        )
    )
    ScheduleFire.objects.bulk_create(
        [
            ScheduleFire(
                schedule_id=schedules[f.schedule_id],
                fire_time=f.fire_time,
                trigger_path=f.trigger_path,
                status=f.status,
                run_id=runs.get(f.run_id),
                run_external_id=f.run_id,
                reason=f.reason,
            )
            for f in fires
            if f.schedule_id in schedules
        ],
        update_conflicts=True,
        unique_fields=["schedule", "fire_time", "trigger_path"],
        update_fields=["status", "run", "run_external_id", "reason"],
    )
