"""Configured backends by name. Engines are classes named by dotted path; no plug-in framework."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from backends.base import Backend

ENGINES = {
    "local": "backends.local.engine.LocalEngine",
}
DEFAULT_BACKENDS = {"local": {"engine": "local"}}


@cache
def configured() -> dict[str, dict[str, Any]]:
    """{name: {"engine": dotted path, **options}} from RUNBOARD_BACKENDS, or one backend called local."""
    path = settings.RUNBOARD_BACKENDS_FILE
    if not path:
        return {name: dict(conf) for name, conf in DEFAULT_BACKENDS.items()}
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe").load(Path(path).read_text())
    except (OSError, YAMLError) as exc:
        raise ImproperlyConfigured(f"RUNBOARD_BACKENDS={path!r} cannot be read: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise ImproperlyConfigured(f"RUNBOARD_BACKENDS={path!r} must map backend names to settings")
    for name, conf in data.items():
        if not isinstance(conf, dict) or "engine" not in conf:
            raise ImproperlyConfigured(f"RUNBOARD_BACKENDS={path!r}: backend {name!r} needs an 'engine'")
    return data


def names() -> list[str]:
    return list(configured())


@cache
def get_backend(name: str) -> Backend:
    try:
        conf = dict(configured()[name])
    except KeyError:
        raise KeyError(f"no backend named {name!r} is configured") from None
    engine = conf.pop("engine")
    cls = import_string(ENGINES.get(engine, engine))
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ImproperlyConfigured(f"backend {name!r}: {engine!r} is not a Backend class")
    return cls(name, **conf)


def reload() -> None:
    """Forget the configuration read so far (after RUNBOARD_BACKENDS changed)."""
    configured.cache_clear()
    get_backend.cache_clear()
