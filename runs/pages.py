"""Small helpers the run pages share."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django_htmx.http import HttpResponseStopPolling

from runs.models import PipelineRun


def stop_polling(response: HttpResponse) -> HttpResponse:
    # 286 tells htmx to stop polling; the content is still swapped in.
    response.status_code = HttpResponseStopPolling.status_code
    return response


def get_run(pk: int) -> PipelineRun:
    return get_object_or_404(PipelineRun.objects.select_related("pipeline", "published_pipeline"), pk=pk)
