"""Configured backends by name. Engines are classes named by dotted path; no plug-in framework."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from backends.base import Backend, UnknownBackend

ENGINES = {
    "local": "backends.local.engine.LocalEngine",
    "azureml": "backends.azureml.engine.AzureMLBackend",
}
DEFAULT_BACKENDS = {"local": {"engine": "local"}}
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


@cache
def configured() -> dict[str, dict[str, Any]]:
    """{name: {"engine": name or dotted path, **options}} from RUNBOARD_BACKENDS, or one backend called local.

    Every entry is checked here, so that a bad one fails at start naming the entry and the field.
    """
    path = settings.RUNBOARD_BACKENDS_FILE
    if not path:
        return {name: dict(conf) for name, conf in DEFAULT_BACKENDS.items()}
    from ruamel.yaml import YAML, YAMLError

    where = f"RUNBOARD_BACKENDS ({path})"
    try:
        data = YAML(typ="safe").load(Path(path).read_text())
    except (OSError, YAMLError) as exc:
        raise ImproperlyConfigured(f"{where} cannot be read: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise ImproperlyConfigured(f"{where} must map backend names to settings")
    for name, conf in data.items():
        if not isinstance(name, str) or not name or len(name) > 64 or not set(name) <= NAME_CHARS:
            raise ImproperlyConfigured(
                f"{where}: backend {name!r}: a name is 1 to 64 letters, digits, '-', '_' or '.'"
            )
        if not isinstance(conf, dict) or not conf.get("engine"):
            raise ImproperlyConfigured(f"{where}: backend {name!r}: field 'engine' is missing")
        options = {k: v for k, v in conf.items() if k != "engine"}
        try:
            problems = engine_class(name, conf["engine"]).option_problems(options)
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(f"{where}: {exc}") from None
        if problems:
            raise ImproperlyConfigured(f"{where}: backend {name!r}: " + "; ".join(problems))
    return data


def engine_class(name: str, engine: Any) -> type[Backend]:
    if not isinstance(engine, str):
        raise ImproperlyConfigured(f"backend {name!r}: field 'engine' must be a name, not {engine!r}")
    dotted = ENGINES.get(engine, engine)
    try:
        cls = import_string(dotted)
    except ImportError as exc:
        known = ", ".join(sorted(ENGINES))
        if engine == "azureml" and "azure" in str(exc):
            raise ImproperlyConfigured(
                f"backend {name!r}: field 'engine': the azureml engine needs the Azure ML SDK: "
                "pip install -r requirements-azureml.txt (make run does this when the backends file names it)"
            ) from None
        raise ImproperlyConfigured(
            f"backend {name!r}: field 'engine': {engine!r} cannot be loaded ({exc}); engines: {known}, "
            "or the dotted path of a Backend class"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ImproperlyConfigured(f"backend {name!r}: field 'engine': {engine!r} is not a Backend class")
    return cls


def names() -> list[str]:
    return list(configured())


class RemovedBackend(Backend):
    """Stands in for a backend no longer configured: its mirror stays readable, and every call it gets says
    why it cannot be made (UnknownBackend, a BackendError), like any other failing backend."""

    engine = "removed"

    def _unsupported(self, what: str) -> UnknownBackend:
        return UnknownBackend(
            f"backend {self.name!r} is not configured any more (RUNBOARD_BACKENDS), so Runboard cannot {what} "
            "there; what it mirrored stays readable"
        )


@cache
def get_backend(name: str) -> Backend:
    """The configured backend called ``name``, or a RemovedBackend when the file no longer names it."""
    conf = configured().get(name)
    if conf is None:
        return RemovedBackend(name)
    options = dict(conf)
    return engine_class(name, options.pop("engine"))(name, **options)


def label(name: str) -> str:
    """A backend's name with where it points ("azure-prod · workspace ml-prod"), for menus and titles."""
    facts = dict(get_backend(name).describe())
    return f"{name} · workspace {facts['workspace']}" if facts.get("workspace") else name


def reload() -> None:
    """Forget the configuration read so far (after RUNBOARD_BACKENDS changed)."""
    configured.cache_clear()
    get_backend.cache_clear()
