"""An Azure ML backend's entry in the backends file, checked at start so that a mistake names its field."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CREDENTIALS = ("default", "environment", "managed_identity", "azure_cli", "workload_identity")
REQUIRED = ("subscription_id", "resource_group", "workspace_name")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{6,12}$")
_ARM_NAME = re.compile(r"^[-\w._()]{1,90}$")


@dataclass(frozen=True)
class Options:
    subscription_id: str
    resource_group: str
    workspace_name: str
    credential: str = "default"
    managed_identity_client_id: str = ""
    experiments: tuple[str, ...] = ()  # only these experiments; empty: all of them
    recording: str = ""  # answer from this recorded traffic instead of the network
    recording_log: str = ""  # with a recording: append each request it answered here
    history_days: int = 30  # how far back the first sync reads
    include_archived: bool = False
    timeout: float = 30.0  # seconds, per request
    catalog_seconds: int = 60

    @property
    def workspace_path(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace_name}"
        )


def problems(raw: dict[str, Any]) -> list[str]:
    """What is wrong with an entry, each naming the field and what it should be."""
    found = []
    for key in REQUIRED:
        value = raw.get(key)
        if value in (None, ""):
            found.append(f"field {key!r} is missing")
        elif not isinstance(value, str):
            found.append(f"field {key!r} must be text, not {value!r}")
    sub = raw.get("subscription_id")
    if isinstance(sub, str) and sub and not _GUID.match(sub):
        found.append(f"field 'subscription_id': {sub!r} is not a subscription id (a GUID)")
    for key in ("resource_group", "workspace_name"):
        value = raw.get(key)
        if isinstance(value, str) and value and not _ARM_NAME.match(value):
            found.append(f"field {key!r}: {value!r} is not a valid Azure resource name")
    credential = raw.get("credential", "default")
    if credential not in CREDENTIALS:
        found.append(f"field 'credential': {credential!r} is not one of {', '.join(CREDENTIALS)}")
    experiments = raw.get("experiments", [])
    if not isinstance(experiments, list) or not all(isinstance(e, str) and e for e in experiments):
        found.append("field 'experiments' must be a list of experiment names")
    recording = raw.get("recording", "")
    if recording and not (isinstance(recording, str) and Path(recording).is_file()):
        found.append(f"field 'recording': {recording!r} is not a readable file")
    log = raw.get("recording_log", "")
    if log and not (isinstance(log, str) and recording and Path(log).parent.is_dir()):
        found.append("field 'recording_log' must be a file in an existing folder, beside a 'recording'")
    for key, low, high in (("history_days", 1, 3650), ("catalog_seconds", 5, 86400)):
        value = raw.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high
        ):
            found.append(f"field {key!r} must be a whole number from {low} to {high}")
    timeout = raw.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= 300
    ):
        found.append("field 'timeout' must be a number of seconds from 1 to 300")
    if "include_archived" in raw and not isinstance(raw["include_archived"], bool):
        found.append("field 'include_archived' must be true or false")
    client_id = raw.get("managed_identity_client_id", "")
    if client_id and not isinstance(client_id, str):
        found.append("field 'managed_identity_client_id' must be text")
    known = {f.name for f in dataclasses.fields(Options)}
    found += [f"field {key!r} is not an Azure ML backend setting" for key in raw if key not in known]
    return found


def parse(raw: dict[str, Any]) -> Options:
    return Options(
        subscription_id=raw["subscription_id"],
        resource_group=raw["resource_group"],
        workspace_name=raw["workspace_name"],
        credential=raw.get("credential", "default"),
        managed_identity_client_id=raw.get("managed_identity_client_id", ""),
        experiments=tuple(raw.get("experiments", ())),
        recording=raw.get("recording", ""),
        recording_log=raw.get("recording_log", ""),
        history_days=raw.get("history_days", 30),
        include_archived=raw.get("include_archived", False),
        timeout=float(raw.get("timeout", 30)),
        catalog_seconds=raw.get("catalog_seconds", 60),
    )
