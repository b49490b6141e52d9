"""Azure ML workspaces replayed from recorded traffic through the real azure-ai-ml SDK: nothing reaches Azure.

The workspace is the demo's (backends/azureml/demo.py): the recorded pipeline job and its two recorded step runs,
the recorded schedule and its disabling, and entries composed from recorded bodies or, where no recording exists,
shaped from the REST specifications each composer names in its entries' ``_composed`` note:
- run history (experiments:query, runs:query and its paging, run details with ``logFiles``):
  Azure/azure-rest-api-specs specification/machinelearningservices/data-plane/
  Microsoft.MachineLearningServices.RunHistory/stable/v1.0/run-history.json;
- job cancel (Jobs_Cancel, 202 + Location), computes and error bodies (ErrorResponse):
  specification/machinelearningservices/resource-manager/Microsoft.MachineLearningServices/preview/
  2024-01-01-preview/mfe.json;
- log blobs read by range (206 and Content-Range, 416 past the end): specification/storage/data-plane/
  Microsoft.BlobStorage/stable/2021-12-02/blob.json;
- the v1 pipelines service, which has no public specification: the generated REST clients of
  azureml-pipeline-core 1.62.0.
A test adds or replaces entries for what it needs.
"""

from __future__ import annotations

from pathlib import Path

from backends.azureml import compose

AZURE = "azure-test"


def azure_options(recording: Path, **more) -> dict:
    return {
        "engine": "azureml",
        "subscription_id": compose.SUBSCRIPTION,
        "resource_group": compose.GROUP,
        "workspace_name": compose.WORKSPACE,
        "recording": str(recording),
        "history_days": 3650,
        **more,
    }


def sent(backend) -> list[tuple[str, str]]:
    """(method, path) of every request the replay answered, in order."""
    return [(s.method, s.path) for s in backend.workspace.recording.sent]
