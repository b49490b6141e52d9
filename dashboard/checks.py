from django.core.checks import Error, register

from backends import registry


@register()
def backends_configured(app_configs, **kwargs) -> list[Error]:
    """Every configured backend names an engine that loads, so a typo fails at start, not at the first sync."""
    errors = []
    try:
        names = registry.names()
    except Exception as exc:
        return [Error(str(exc), id="runboard.E001")]
    for name in names:
        try:
            registry.get_backend(name)
        except Exception as exc:
            errors.append(Error(f"RUNBOARD_BACKENDS: backend {name!r}: {exc}", id="runboard.E002"))
    return errors
