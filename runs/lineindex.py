"""A step's log as lines, read through the backend by byte range, and a sparse index of where its lines start.

Nothing here holds a whole log: reads are at most ``SCAN`` bytes, and a line longer than a window is kept as its
head (or its last carriage-return segment, which is what a terminal shows) with its byte range.

The index counts newlines per ``BLOCK`` of the log, so the number of the line at any offset costs one read of at
most a block. It is persisted under ``VAR_DIR/log-index`` (one small file per log: 8 bytes per MB), made on first
need and extended as the log grows: only bytes not yet counted are read.
"""

from __future__ import annotations

import os
import struct
import tempfile
import time
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

from backends.base import Backend, LogChunk
from dashboard import deadline

BLOCK = 1 << 20  # newlines are counted per block
SCAN = 8 << 20  # bytes per read when scanning: building the index, searching, finding a long line's end
LINE_HEAD = 64 << 10  # of a line longer than a window, this much is kept to show
FINGERPRINT = 4096  # bytes before the indexed end whose checksum tells that the log is still the one indexed


@dataclass(frozen=True)
class LogLine:
    number: int | None  # 1-based; None when the index is not there yet
    start: int  # offset of the line's first byte
    end: int  # offset after its newline (or where the log ends, for a last line without one)
    data: bytes  # the line without its newline; only its head (or last \r segment) when ``clipped``
    complete: bool  # ends with a newline
    clipped: bool = False  # ``data`` is not the whole line: it was too long to read for a window

    @property
    def length(self) -> int:
        return self.end - self.start - (1 if self.complete else 0)


class StepLog:
    """One log of one step, read only through ``Backend.read_log``."""

    def __init__(self, backend: Backend, run_id: str, step_id: str, name: str) -> None:
        self.backend = backend
        self.run_id = run_id
        self.step_id = step_id
        self.name = name

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.backend.name, self.run_id, self.step_id, self.name)

    def read(self, offset: int, limit: int) -> LogChunk:
        return self.backend.read_log(self.run_id, self.step_id, self.name, max(0, offset), max(0, limit))

    def stat(self) -> LogChunk:
        """Size and whether the log may still grow, reading nothing."""
        return self.read(0, 0)

    def scan(
        self, start: int, stop: int, size: int | None = None, overlap: int = 0
    ) -> Iterator[tuple[int, bytes]]:
        """Consecutive pieces of [start, stop) of at most ``size`` bytes (``SCAN``), each followed by ``overlap``
        more bytes (so that something crossing a piece's end is whole in that piece)."""
        size = size or SCAN
        pos = start
        while pos < stop:
            deadline.check()
            want = min(size, stop - pos)
            data = self.read(pos, want + overlap).data
            if not data:
                return
            yield pos, data
            pos += min(want, len(data))

    def next_newline(self, start: int, stop: int) -> int:
        """Offset of the first newline in [start, stop), or -1."""
        pos, step = start, 64 << 10  # most lines are short: look near first
        while pos < stop:
            deadline.check()
            data = self.read(pos, min(step, stop - pos)).data
            if not data:
                break
            i = data.find(b"\n")
            if i != -1:
                return pos + i
            pos, step = pos + len(data), max(step, SCAN)
        return -1

    def prev_newline(self, before: int) -> int:
        """Offset of the last newline before ``before``, or -1."""
        pos, step = before, 64 << 10  # most lines are short: look near first
        while pos > 0:
            deadline.check()
            lo = max(0, pos - step)
            i = self.read(lo, pos - lo).data.rfind(b"\n")
            if i != -1:
                return lo + i
            pos, step = lo, max(step, SCAN)
        return -1

    def line_start(self, offset: int) -> int:
        """Where the line holding the byte at ``offset`` starts."""
        if offset <= 0:
            return 0
        return self.prev_newline(offset) + 1

    def start_before(self, end: int, budget: int) -> int:
        """A line start about ``budget`` bytes before ``end`` (a line start, or the log's end).

        The first line start at or after ``end - budget``; when one line longer than ``budget`` ends at ``end``, that
        line's start, so a window is never empty.
        """
        if end <= budget:
            return 0
        lo = end - budget
        # Bytes [lo - 1, end - 1): a newline there starts a line in [lo, end). The byte at end - 1 ends the line
        # before ``end``, so it is left out.
        i = self.read(lo - 1, budget).data.find(b"\n")
        if i != -1:
            return lo + i
        return self.line_start(lo)

    def lines(
        self,
        start: int,
        stop: int,
        first_number: int | None,
        *,
        budget: int | None = None,
        read: int = 256 << 10,
    ) -> tuple[list[LogLine], int]:
        """The lines from ``start`` (a line start) until ``stop``, or until the line that crosses
        ``start + budget``. Returns them and where the next line starts.

        A last line without a newline before ``stop`` is returned with ``complete=False``.
        """
        out: list[LogLine] = []
        pos = start
        number = first_number
        limit = stop if budget is None else min(stop, start + budget)
        while pos < limit:
            deadline.check()
            want = min(read, stop - pos)
            data = self.read(pos, want).data
            if not data:
                break
            i = 0
            while pos + i < limit:
                newline = data.find(b"\n", i)
                if newline == -1:
                    break
                out.append(LogLine(number, pos + i, pos + newline + 1, data[i:newline], True))
                i = newline + 1
                if number is not None:
                    number += 1
            if i:
                pos += i  # a line left unfinished in this read is read again, whole, from its start
                continue
            if len(data) < want or pos + len(data) >= stop:
                # The log (or the window) ends inside this line.
                out.append(LogLine(number, pos, pos + len(data), data, False))
                pos += len(data)
                break
            line, pos = self._long_line(pos, stop, data, number)
            out.append(line)
            if number is not None:
                number += 1
        return out, pos

    def _long_line(self, start: int, stop: int, head: bytes, number: int | None) -> tuple[LogLine, int]:
        """A line longer than one read: find its end, keep what a terminal would show of it."""
        newline = self.next_newline(start + len(head), stop)
        end = newline if newline != -1 else stop
        tail_start = max(start, end - LINE_HEAD)
        tail = self.read(tail_start, end - tail_start).data.rstrip(b"\r")
        cr = tail.rfind(b"\r")
        data = tail[cr + 1 :] if cr != -1 else head[:LINE_HEAD]
        complete = newline != -1
        line = LogLine(number, start, end + 1 if complete else end, data[:LINE_HEAD], complete, clipped=True)
        return line, line.end


# --- the line index -------------------------------------------------------------------------

_HEADER = struct.Struct("<8sIIQ")  # magic, block size, checksum of the bytes before the indexed end, blocks
_MAGIC = b"RBLIDX1\0"


def index_dir() -> Path:
    return Path(getattr(settings, "LOG_INDEX_DIR", None) or settings.VAR_DIR / "log-index")


def index_path(key: tuple[str, ...]) -> Path:
    # Percent-encoded so that any id is one safe path component ("." too: no "..").
    parts = [quote(part, safe="").replace(".", "%2E") or "%" for part in key]
    return index_dir().joinpath(*parts[:-1], parts[-1] + ".idx")


class LineIndex:
    """Newlines before each ``BLOCK`` boundary of a log: ``counts[k]`` newlines lie in [0, k * BLOCK)."""

    def __init__(self, log: StepLog) -> None:
        self.log = log
        self.path = index_path(log.key)
        self.counts = array("Q", [0])
        self.checksum = 0
        self.complete = False  # covers every whole block of the log as of the last update
        self._load()

    @property
    def indexed(self) -> int:
        """Bytes counted: whole blocks only (the last, partial block is counted when it is needed)."""
        return (len(self.counts) - 1) * BLOCK

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except OSError:
            return
        if len(raw) < _HEADER.size:
            return
        magic, block, checksum, blocks = _HEADER.unpack_from(raw)
        counts = array("Q")
        counts.frombytes(raw[_HEADER.size :])
        if magic != _MAGIC or block != BLOCK or len(counts) != blocks + 1:
            return
        self.counts, self.checksum = counts, checksum

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = _HEADER.pack(_MAGIC, BLOCK, self.checksum, len(self.counts) - 1)
        # Written aside and renamed: a reader never sees half a file, and two writers leave one whole file.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(header + self.counts.tobytes())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _fingerprint(self, end: int) -> int:
        if end == 0:
            return 0
        data = self.log.read(max(0, end - FINGERPRINT), min(end, FINGERPRINT)).data
        return zlib.crc32(data)

    def update(self, size: int, *, seconds: float = 10.0) -> bool:
        """Count the whole blocks of a log of ``size`` bytes not yet counted, for at most about ``seconds``.

        Returns whether the index now covers the log. A log that shrank or changed under the index is counted again.
        """
        stale = bool(self.indexed) and (
            size < self.indexed or self._fingerprint(self.indexed) != self.checksum
        )
        if stale:
            self.counts, self.checksum = array("Q", [0]), 0
        target = size // BLOCK * BLOCK
        if self.indexed >= target:
            if stale:
                self._save()
            self.complete = True
            return True
        deadline = time.monotonic() + seconds
        total = self.counts[-1]
        for _, data in self.log.scan(self.indexed, target):
            whole = len(data) // BLOCK * BLOCK
            for i in range(0, whole, BLOCK):
                total += data.count(b"\n", i, i + BLOCK)
                self.counts.append(total)
            if whole < len(data) or time.monotonic() > deadline:
                break  # the log was cut short under us, or the time is up: keep what was counted
        self.checksum = self._fingerprint(self.indexed)
        self._save()
        self.complete = self.indexed >= target
        return self.complete

    def newlines_before(self, offset: int) -> int | None:
        """Newlines in [0, offset), or None where the index does not reach."""
        block = min(offset // BLOCK, len(self.counts) - 1)
        rest = offset - block * BLOCK
        if rest > 2 * BLOCK:
            return None
        data = self.log.read(block * BLOCK, rest).data if rest else b""
        return self.counts[block] + data.count(b"\n")

    def line_of(self, offset: int) -> int | None:
        """Number (1-based) of the line that starts at, or holds, ``offset``."""
        before = self.newlines_before(offset)
        return None if before is None else before + 1

    def offset_of(self, number: int, size: int) -> int | None:
        """Where line ``number`` starts, or None if the log (of ``size`` bytes) has no such line."""
        if number <= 1:
            return 0 if number == 1 else None
        wanted = number - 1  # newlines before the line
        last = len(self.counts) - 1
        block = bisect_left(self.counts, wanted) - 1  # the block holding the wanted-th newline
        lo = min(block, last) * BLOCK
        if block >= last:  # past the counted blocks: in the last, partial block
            block = last
            if size - lo > 2 * BLOCK:
                return None
        data = self.log.read(lo, min(BLOCK, size - lo) if block < last else size - lo).data
        pos = -1
        for _ in range(wanted - self.counts[block]):
            pos = data.find(b"\n", pos + 1)
            if pos == -1:
                return None
        start = lo + pos + 1
        return start if start < size else None

    def line_count(self, size: int, last_byte: bytes) -> int | None:
        """Lines in a log of ``size`` bytes ending with ``last_byte``: a last line without a newline counts."""
        before = self.newlines_before(size)
        if before is None:
            return None
        return before + (1 if size and last_byte != b"\n" else 0)
