"""Searching a step's log on the server, in pieces, never holding more than one piece.

A query is a plain substring, matched against the log's bytes (as grep does: escape sequences are part of the
text). Case-insensitive matching lowers ASCII in place, which keeps byte offsets; a query with non-ASCII letters is
matched with a bytes pattern of each letter's cases instead. Matches do not overlap (as an editor counts them) and
are found across the pieces' ends: each piece is read with ``len(query) - 1`` bytes of the next.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from dashboard import deadline
from runs import lineindex
from runs.lineindex import LineIndex, StepLog
from runs.logtext import ESCAPE, _printable

MAX_LISTED = 1000
SNIPPET_BEFORE = 60
SNIPPET_AFTER = 140


@dataclass(frozen=True)
class Match:
    offset: int  # of the match's first byte
    line: int  # 1-based
    before: str  # text of the line around the match, for the list
    text: str
    after: str


@dataclass
class SearchResult:
    query: str
    case_sensitive: bool
    count: int = 0
    matches: list[Match] = field(default_factory=list)
    scanned: int = 0  # bytes: the log's size when the search started
    seconds: float = 0.0

    @property
    def capped(self) -> bool:
        return self.count > len(self.matches)

    @property
    def count_text(self) -> str:
        return f"{self.count:,}"


class Matcher:
    """Finds a query in bytes: ``find``/``rfind``/``count`` on prepared bytes, or a pattern for non-ASCII cases."""

    def __init__(self, query: str, *, case_sensitive: bool) -> None:
        self.query = query
        self.case_sensitive = case_sensitive
        self.pattern: re.Pattern[bytes] | None = None
        if case_sensitive or query.isascii():
            self.needle = query.encode() if case_sensitive else query.lower().encode()
            self.width = len(self.needle)
        else:
            alternatives = []
            for char in query:
                cases = dict.fromkeys(c.encode() for c in (char, char.lower(), char.upper(), char.casefold()))
                alternatives.append(b"(?:" + b"|".join(re.escape(c) for c in cases) + b")")
            self.pattern = re.compile(b"".join(alternatives))
            self.width = max(len(c.encode()) for c in (query, query.lower(), query.upper(), query.casefold()))
        # When the query overlaps itself ("aa", "abab"), counting alone would not follow non-overlapping matches
        # across a piece's end; such queries are followed match by match.
        self.self_overlapping = self.pattern is not None or any(
            self.needle[:k] == self.needle[-k:] for k in range(1, len(self.needle))
        )

    def prepare(self, data: bytes) -> bytes:
        return data if self.case_sensitive or self.pattern is not None else data.lower()

    def iter(self, hay: bytes, start: int, stop: int) -> Iterator[tuple[int, int]]:
        """Non-overlapping matches starting in [start, stop) of prepared bytes, as (start, end)."""
        if self.pattern is not None:
            for m in self.pattern.finditer(hay, start):
                if m.start() >= stop:
                    return
                yield m.start(), m.end()
            return
        i = hay.find(self.needle, start)
        while i != -1 and i < stop:
            yield i, i + self.width
            i = hay.find(self.needle, i + self.width)

    def count(self, hay: bytes, start: int, stop: int) -> tuple[int, int]:
        """How many matches start in [start, stop), and where the next match may start."""
        if self.self_overlapping:
            n, after = 0, start
            for _, end in self.iter(hay, start, stop):
                n, after = n + 1, end
            return n, after
        # Not overlapping itself, every occurrence is a match: count those whole within [start, stop + width - 1).
        return hay.count(self.needle, start, stop + self.width - 1), start

    def first(self, hay: bytes, start: int, stop: int) -> int:
        for begin, _ in self.iter(hay, start, stop):
            return begin
        return -1

    def last(self, hay: bytes, stop: int) -> int:
        """The last occurrence starting before ``stop``."""
        if self.pattern is None:
            return hay.rfind(self.needle, 0, stop + self.width - 1)
        found = -1
        for begin, _ in self.iter(hay, 0, stop):
            found = begin
        return found


def search_log(
    log: StepLog,
    query: str,
    *,
    case_sensitive: bool,
    limit: int = MAX_LISTED,
    piece: int | None = None,
    index: LineIndex | None = None,
) -> SearchResult:
    """Every match of ``query`` in the log: the count, and the first ``limit`` with their line numbers.

    With a complete line ``index`` the newlines before each piece are known without counting them.
    """
    started = time.monotonic()
    piece = piece or lineindex.SCAN
    size = log.stat().size
    result = SearchResult(query=query, case_sensitive=case_sensitive, scanned=size)
    if not query:
        return result
    matcher = Matcher(query, case_sensitive=case_sensitive)
    indexed = index is not None and index.complete and piece % lineindex.BLOCK == 0
    newlines = 0  # before the current piece; only needed while matches are listed
    next_start = 0  # where the next match may start (an absolute offset): matches do not overlap
    for pos, data in log.scan(0, size, piece, overlap=matcher.width - 1):
        end = min(piece, size - pos, len(data))  # matches starting in [pos, pos + end) belong to this piece
        hay = matcher.prepare(data)
        start = max(0, next_start - pos)
        if len(result.matches) < limit:
            if indexed:
                known = index.newlines_before(pos)
                if known is None:  # the log grew past the index since it was updated: count from its end
                    indexed, known = False, index.counts[-1]
                    known += sum(d.count(b"\n") for _, d in log.scan(index.indexed, pos))
                newlines = known
            counted_to, counted = 0, 0  # newlines in data[:counted_to]
            exhausted = True
            for begin, stop in matcher.iter(hay, start, end):
                result.count += 1
                start = stop
                counted += data.count(b"\n", counted_to, begin)
                counted_to = begin
                result.matches.append(_match(data, begin, stop, newlines + counted + 1, pos))
                if len(result.matches) >= limit:
                    exhausted = False
                    break
            if not indexed:
                newlines += data.count(b"\n", 0, end)
            if exhausted:
                next_start = pos + start
                continue
        # Past the listed matches only the count matters.
        n, after = matcher.count(hay, start, end)
        result.count += n
        next_start = pos + after
    result.seconds = time.monotonic() - started
    return result


def _match(data: bytes, begin: int, stop: int, line: int, pos: int) -> Match:
    line_start = data.rfind(b"\n", 0, begin) + 1
    line_end = data.find(b"\n", stop)
    line_end = len(data) if line_end == -1 else line_end
    lo, hi = max(line_start, begin - SNIPPET_BEFORE), min(line_end, stop + SNIPPET_AFTER)
    return Match(
        offset=pos + begin,
        line=line,
        before=("…" if lo > line_start else "") + _snippet(data[lo:begin]),
        text=_snippet(data[begin:stop]),
        after=_snippet(data[stop:hi]) + ("…" if hi < line_end else ""),
    )


def _snippet(data: bytes) -> str:
    return _printable(ESCAPE.sub("", data.decode("utf-8", errors="replace")).replace("\r", " "))


def find_next(log: StepLog, query: str, *, case_sensitive: bool, start: int, piece: int | None = None) -> int:
    """Offset of the first match starting at or after ``start``, or -1."""
    if not query:
        return -1
    matcher = Matcher(query, case_sensitive=case_sensitive)
    piece = piece or lineindex.SCAN
    size = log.stat().size
    for pos, data in log.scan(min(start, size), size, piece, overlap=matcher.width - 1):
        found = matcher.first(matcher.prepare(data), 0, min(piece, len(data)))
        if found != -1:
            return pos + found
    return -1


def find_previous(
    log: StepLog, query: str, *, case_sensitive: bool, before: int, piece: int | None = None
) -> int:
    """Offset of the last match starting before ``before``, or -1."""
    if not query:
        return -1
    matcher = Matcher(query, case_sensitive=case_sensitive)
    piece = piece or lineindex.SCAN
    hi = min(before, log.stat().size)  # an offset past the end means the end: never a walk through nothing
    while hi > 0:
        deadline.check()
        lo = max(0, hi - piece)
        data = log.read(lo, hi - lo + matcher.width - 1).data
        found = matcher.last(matcher.prepare(data), hi - lo)
        if found != -1 and found < hi - lo:
            return lo + found
        hi = lo
    return -1
