"""Keyset pagination: a page is the rows after the last one shown, never an OFFSET or a COUNT."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Model, Q, QuerySet

from dashboard import params

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
    when, key = params.whole_or_none(micros), params.whole_or_none(pk)
    if when is None or key is None:
        return None
    try:
        return EPOCH + timedelta(microseconds=when), key
    except OverflowError:  # beyond year 9999
        return None


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


# --- any order: one column (which may be null) and the id, either direction -------------------------
#
# Rows with no value come last in both directions (a run that has not finished has no duration), so an order
# is walked in two segments: the rows with a value, in the column's index order, then the rows without one,
# by id. Each segment is one range of an index on (column, id), and a cursor says which segment it is in:
# ``created_1714557000123456_42``, ``duration_12.5_42``, ``duration_null_42``.

NULL = "null"


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last row's value (None: in the segment of rows without one) and its id."""

    value: datetime | float | None
    pk: int


@dataclass(frozen=True)
class Segment:
    nulls: bool  # the rows without a value, else the rows with one
    after: Position | None  # start after this row; None: from the segment's start


@dataclass(frozen=True)
class KeyOrder:
    name: str  # in URLs and cursors
    field: str
    descending: bool = True
    kind: str = "time"  # "time" (a datetime) or "number"

    def order_by(self, field: str | None = None, pk: str = "pk") -> list[str]:
        sign = "-" if self.descending else ""
        return [f"{sign}{field or self.field}", f"{sign}{pk}"]

    def position(self, row: Model) -> Position:
        return Position(getattr(row, self.field), row.pk)

    def sort_key(self, position: Position) -> tuple:
        """A tuple that sorts ascending in this order's walk order, nulls last."""
        return self.key_of(position.value, position.pk)

    def key_of(self, value: datetime | float | None, pk: int) -> tuple:
        sign = -1 if self.descending else 1
        if value is None:
            return (1, 0, sign * pk)
        return (0, sign * self._number(value), sign * pk)

    def cursor(self, position: Position) -> str:
        value = NULL if position.value is None else self._encode(position.value)
        return f"{self.name}_{value}_{position.pk}"

    def parse(self, raw: str) -> Position | None:
        """The position a cursor names, or None when it is malformed or made for another order."""
        name, _, rest = raw.partition("_")
        value, _, pk = rest.rpartition("_")
        key = params.whole_or_none(pk)
        if name != self.name or key is None or not value:
            return None
        if value == NULL:
            return Position(None, key)
        try:
            decoded = self._decode(value)
        except (ValueError, OverflowError):
            return None
        return Position(decoded, key)

    def segments(self, after: Position | None) -> list[Segment]:
        """The segments still to walk after ``after``, in order."""
        if after is None:
            return [Segment(False, None), Segment(True, None)]
        if after.value is None:
            return [Segment(True, after)]
        return [Segment(False, after), Segment(True, None)]

    def segment_q(self, segment: Segment, field: str | None = None, pk: str = "pk") -> Q:
        """The rows of ``segment``, strictly after its start, as a condition an (column, id) index serves."""
        field = field or self.field
        if segment.nulls:
            q = Q(**{f"{field}__isnull": True})
            if segment.after is not None:
                q &= Q(**{f"{pk}__{self._beyond}": segment.after.pk})
            return q
        if segment.after is None:
            return Q(**{f"{field}__isnull": False})
        v, p = segment.after.value, segment.after.pk
        # "v2 <= v and (v2 < v or id < p)": the first half is an index range on its own.
        return Q(**{f"{field}__{self._beyond}e": v}) & (
            Q(**{f"{field}__{self._beyond}": v}) | Q(**{f"{pk}__{self._beyond}": p})
        )

    def through_q(self, end: Position, field: str | None = None, pk: str = "pk") -> Q:
        """Rows up to ``end`` included (within ``end``'s segment; use with ``segment_q``)."""
        field = field or self.field
        before = "gt" if self.descending else "lt"
        if end.value is None:
            return Q(**{f"{pk}__{before}e": end.pk})
        return Q(**{f"{field}__{before}e": end.value}) & (
            Q(**{f"{field}__{before}": end.value}) | Q(**{f"{pk}__{before}e": end.pk})
        )

    @property
    def _beyond(self) -> str:
        return "lt" if self.descending else "gt"

    def _number(self, value: datetime | float) -> float | int:
        if isinstance(value, datetime):
            return (value - EPOCH) // timedelta(microseconds=1)
        return value

    def _encode(self, value: datetime | float) -> str:
        if self.kind == "time":
            return str((value - EPOCH) // timedelta(microseconds=1))
        return repr(float(value))  # repr round-trips a float exactly

    def _decode(self, raw: str) -> datetime | float:
        if self.kind == "time":
            micros = params.whole_or_none(raw.removeprefix("-"))
            if micros is None:
                raise ValueError(raw)
            return EPOCH + timedelta(microseconds=-micros if raw.startswith("-") else micros)
        value = float(raw)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(raw)
        return value
