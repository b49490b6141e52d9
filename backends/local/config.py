"""The local engine's own settings: its entry in the backends file, checked at start like any backend's.

```yaml
local:
  engine: local
  datastores:          # azureml://datastores/<name>/paths/<path> reads <folder or URL>/<path>
    workspaceblobstore: /srv/data
  data_assets:         # azureml:<name>:<version> and azureml:<name>@latest
    "iris:1": /srv/data/iris.csv
    "iris@latest": /srv/data/iris.csv
  environments:        # registered environments built from a local definition
    "AzureML-sklearn-1.5": envs/sklearn-conda.yml
  download_limit: 2147483648   # bytes: a bigger remote input fails its step
  download_max_age: 86400      # seconds a download is reused when its server gives no ETag or Last-Modified
```

``RUNBOARD_BUILD_ENVIRONMENTS=0`` turns environment building off (steps then run on the worker's own Python).
Pure Python (no Django) apart from ``current``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DOWNLOAD_LIMIT = 2 * 1024**3  # bytes: a remote input bigger than this is refused
DEFAULT_DOWNLOAD_MAX_AGE = 24 * 3600  # seconds: see backends/local/datacache.py
OPTIONS = ("datastores", "data_assets", "environments", "download_limit", "download_max_age")


@dataclass(frozen=True)
class EngineConfig:
    datastores: dict[str, str] = field(default_factory=dict)
    data_assets: dict[str, str] = field(default_factory=dict)
    environments: dict[str, str] = field(default_factory=dict)
    download_limit: int = DEFAULT_DOWNLOAD_LIMIT
    download_max_age: int = DEFAULT_DOWNLOAD_MAX_AGE
    build_environments: bool = True
    base_dir: str = ""  # relative paths in the mappings are relative to this (the backends file's folder)

    def path(self, value: str) -> str:
        """A mapping's value: a URL as it is, a path made absolute against ``base_dir``."""
        if "://" in value:
            return value
        return os.path.normpath(os.path.join(self.base_dir or os.getcwd(), os.path.expanduser(value)))


def problems(raw: dict[str, Any]) -> list[str]:
    found = [
        f"field {key!r} is not a local engine setting ({', '.join(OPTIONS)})"
        for key in raw
        if key not in OPTIONS
    ]
    for key in ("datastores", "data_assets", "environments"):
        value = raw.get(key, {})
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            found.append(f"field {key!r} must map names to paths or URLs")
    limit = raw.get("download_limit", DEFAULT_DOWNLOAD_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        found.append("field 'download_limit' must be a number of bytes")
    age = raw.get("download_max_age", DEFAULT_DOWNLOAD_MAX_AGE)
    if isinstance(age, bool) or not isinstance(age, int) or age < 0:
        found.append("field 'download_max_age' must be a number of seconds")
    return found


def parse(raw: dict[str, Any], base_dir: str = "") -> EngineConfig:
    build = os.environ.get("RUNBOARD_BUILD_ENVIRONMENTS", "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    )
    return EngineConfig(
        datastores=dict(raw.get("datastores", {})),
        data_assets=dict(raw.get("data_assets", {})),
        environments=dict(raw.get("environments", {})),
        download_limit=int(raw.get("download_limit", DEFAULT_DOWNLOAD_LIMIT)),
        download_max_age=int(raw.get("download_max_age", DEFAULT_DOWNLOAD_MAX_AGE)),
        build_environments=build,
        base_dir=base_dir,
    )


def current() -> EngineConfig:
    """The configuration of the backend called ``local`` (or of the first local engine configured)."""
    from backends import registry

    for name in registry.names():
        backend = registry.get_backend(name)
        if backend.engine == "local":
            return backend.config
    return parse({})


def backends_file_dir() -> str:
    from django.conf import settings

    path = settings.RUNBOARD_BACKENDS_FILE
    return str(Path(path).resolve().parent) if path else ""
