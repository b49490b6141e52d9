"""Values from a request's query string, form or cookies, parsed in one place each, so that what a hostile client
sends is a clear 400 (or a message beside the field), never a 500 and never unbounded work.

Whole numbers are ASCII digits within a 64-bit signed range (``str.isdigit`` accepts "²" and other digits that
``int`` refuses; a database refuses what is beyond 64 bits). Time zones are checked against the zones this
machine has. ``next`` is a same-site path that resolves to a page of this site.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import BadRequest
from django.http import HttpRequest
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme

MAX_ID = 2**63 - 1  # the largest primary key or offset any database here stores
DIGITS = re.compile(r"[0-9]{1,19}")


class BadParameter(BadRequest):
    """A value that cannot be used: Django answers it with the 400 page, which says which field and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def whole(
    raw: str | None, field: str, *, default: int | None = None, low: int = 0, high: int = MAX_ID
) -> int | None:
    """A whole number from ``low`` to ``high``; ``default`` when absent or empty."""
    text = (raw or "").strip()
    if not text:
        return default
    if not DIGITS.fullmatch(text):
        raise BadParameter(field, f"must be a whole number from {low} to {high:,}")
    value = int(text)
    if not low <= value <= high:
        raise BadParameter(field, f"must be a whole number from {low} to {high:,}")
    return value


def whole_or_none(raw: str | None) -> int | None:
    """A whole number in range, or None for anything else (for values a page may silently ignore)."""
    try:
        return whole(raw, "value")
    except BadParameter:
        return None


def ids(values: Iterable[str], *, limit: int) -> list[int]:
    """Distinct ids in the order given, at most ``limit``; what is not an id is left out."""
    found = (whole_or_none(v) for v in values)
    return list(dict.fromkeys(v for v in found if v is not None and v > 0))[:limit]


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone of that name when this machine has it; None for anything else (a folder, a path...)."""
    if not name or len(name) > 64 or name not in _zones():
        return None
    return ZoneInfo(name)


def moment(value: datetime | None, field: str) -> datetime | None:
    """A datetime every database and zone conversion can hold (years 1 to 9999, with a day to spare)."""
    if value is None:
        return None
    low, high = datetime.min.replace(tzinfo=value.tzinfo), datetime.max.replace(tzinfo=value.tzinfo)
    try:
        if value - low < timedelta(days=1) or high - value < timedelta(days=1):
            raise OverflowError
    except OverflowError:
        raise BadParameter(field, "is out of the range of dates") from None
    return value


def next_url(request: HttpRequest, raw: str | None, default: str) -> str:
    """Where to go after an action: ``raw`` when it is a path on this site that resolves, else ``default``."""
    target = (raw or "").strip()
    if (
        not target
        or len(target) > 2000
        or not target.startswith("/")
        or not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=False
        )
    ):
        return default
    try:
        resolve(target.split("?", 1)[0])
    except Resolver404:
        return default
    return target
