"""Keyset pagination: a page is the rows after the last one shown, never an OFFSET or a COUNT."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Model, Q, QuerySet

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Page:
    items: list
    next_cursor: str  # "" on the last page
    cursor: str  # the cursor this page was read from, "" for the first page
    cursor_valid: bool = True


def make_cursor(row: Model, field: str) -> str:
    # Whole microseconds since the epoch, then the id: exact, and nothing in it needs escaping in a URL.
    return f"{(getattr(row, field) - EPOCH) // timedelta(microseconds=1)}_{row.pk}"


def parse_cursor(raw: str) -> tuple[datetime, int] | None:
    micros, _, pk = raw.partition("_")
    if not (micros.isdigit() and pk.isdigit()):
        return None
    return EPOCH + timedelta(microseconds=int(micros)), int(pk)


def keyset_page(rows: QuerySet, cursor: str, *, field: str, size: int) -> Page:
    """Rows newest first by (``field``, id), starting after ``cursor``."""
    after = parse_cursor(cursor) if cursor else None
    if after:
        when, pk = after
        rows = rows.filter(Q(**{f"{field}__lt": when}) | Q(**{field: when, "pk__lt": pk}))
    items = list(rows.order_by(f"-{field}", "-pk")[: size + 1])
    more = len(items) > size
    items = items[:size]
    return Page(
        items=items,
        next_cursor=make_cursor(items[-1], field) if more and items else "",
        cursor=cursor if after else "",
        cursor_valid=not cursor or after is not None,
    )
