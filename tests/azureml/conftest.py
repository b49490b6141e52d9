"""Azure ML workspaces replayed from recorded traffic through the real azure-ai-ml SDK: nothing reaches Azure.

The workspace is the demo's (backends/azureml/demo.py): the recorded pipeline job and its two recorded step runs,
the recorded schedule, and entries composed from recorded bodies or, where no recording exists, shaped from the
REST specifications each composer names. A test adds or replaces entries for what it needs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.fixture
def logged_in(client, viewer):
    """A data scientist: reads everything, changes nothing."""
    client.force_login(viewer)
    return client
