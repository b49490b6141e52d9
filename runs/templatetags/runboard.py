from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """1h 02m, 3m 05s, 4.2s: short enough for a table cell."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 10:
        return f"{seconds:.1f}s"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


@register.filter
def status_class(status: str) -> str:
    return {
        "Completed": "ok",
        "Failed": "bad",
        "NotResponding": "bad",
        "Canceled": "muted",
        "CancelRequested": "warn",
        "Running": "live",
        "Finalizing": "live",
        "Preparing": "live",
        "Starting": "live",
        "Provisioning": "live",
    }.get(status, "idle")


@register.filter
def public(message: str) -> str:
    """A message from a backend, with no server path in it (dashboard/public.py)."""
    from dashboard.public import public_message

    return public_message(message)


@register.filter
def thousands(value: int) -> str:
    """30,067 rather than 30067: counts on the overview run into the tens of thousands."""
    return f"{value:,}" if isinstance(value, int) else str(value)
