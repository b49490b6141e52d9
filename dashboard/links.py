"""Links to the lists behind a number: the runs list with filters in its own parameters, an object's page, a moment
as the runs list reads it back. Built without reversing a URL for each link: a page of counts has dozens."""

from __future__ import annotations

import functools
from datetime import datetime
from urllib.parse import urlencode

from django.urls import get_script_prefix, reverse
from django.utils import timezone


@functools.cache
def _path(name: str, script_prefix: str) -> str:
    # A page links to the runs list some sixty times; reversing costs ~50 µs a time.
    return reverse(name)


def path(name: str) -> str:
    return _path(name, get_script_prefix())


_MARKER = "987654321"


@functools.cache
def _pattern(name: str, script_prefix: str) -> str:
    return reverse(name, args=[_MARKER])


def object_url(name: str, pk: int) -> str:
    """The page of one object (``<id:pk>``), without reversing again for each row."""
    return _pattern(name, get_script_prefix()).replace(_MARKER, str(int(pk)))


@functools.cache
def _encoded(name: str, values: tuple[str, ...]) -> str:
    # The same lists of statuses recur on every link of a page: encoded once.
    return urlencode([(name, v) for v in values if v])


def runs_url(**filters) -> str:
    """The runs list with these filters (its own parameter names; a list gives the parameter several times)."""
    parts = []
    for name, value in filters.items():
        if isinstance(value, list | tuple):
            encoded = _encoded(name, tuple(value))
        else:
            encoded = urlencode([(name, value)]) if value not in (None, "") else ""
        if encoded:
            parts.append(encoded)
    return f"{path('runs:list')}?{'&'.join(parts)}" if parts else path("runs:list")


def moment_param(moment: datetime) -> str:
    """A moment as the runs list reads it back exactly: to the second, with the viewer's UTC offset."""
    return timezone.localtime(moment).isoformat(timespec="seconds")


def to_the_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)
