"""Azure ML workspaces replayed from recorded traffic through the real azure-ai-ml SDK: nothing reaches Azure.

The workspace is the demo's (backends/azureml/demo.py): the recorded pipeline job and its two recorded step runs,
the recorded schedule, and entries composed from recorded bodies or, where no recording exists, shaped from the
REST specifications each composer names. A test adds or replaces entries for what it needs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.azureml import compose, demo
from backends.registry import get_backend

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


@pytest.fixture
def workspace() -> compose.Composer:
    """The demo workspace's entries, for a test to add to before it is replayed."""
    return demo.workspace()


@pytest.fixture
def replay(workspace, tmp_path, configure_backends):
    """Configure the local engine and a replayed workspace called azure-test; returns the Azure backend."""

    def start(composer: compose.Composer | None = None, **options):
        path = (composer or workspace).dump(tmp_path / "workspace.json")
        configure_backends({"local": {"engine": "local"}, AZURE: azure_options(path, **options)})
        return get_backend(AZURE)

    return start


def sent(backend) -> list[tuple[str, str]]:
    """(method, path) of every request the replay answered, in order."""
    return [(s.method, s.path) for s in backend.workspace.recording.sent]


@pytest.fixture
def logged_in(client, viewer):
    """A data scientist: reads everything, changes nothing."""
    client.force_login(viewer)
    return client
