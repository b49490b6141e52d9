"""Turning byte ranges of a log into text safely, without splitting a character across two reads."""

from __future__ import annotations


def incomplete_utf8_tail(data: bytes) -> int:
    """How many bytes at the end of ``data`` start a UTF-8 character that the next read completes."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0b1100_0000 == 0b1000_0000:
            continue  # a continuation byte: keep looking for the lead byte
        if byte & 0b1000_0000 == 0:
            return 0  # ASCII: complete
        needed = 2 if byte & 0b1110_0000 == 0b1100_0000 else 3 if byte & 0b1111_0000 == 0b1110_0000 else 4
        return back if back < needed else 0
    return 0


def decode_chunk(data: bytes, *, final: bool) -> tuple[str, int]:
    """Text of a chunk and how many of its bytes it consumed. Undecodable bytes show as U+FFFD.

    Unless ``final``, a character cut off at the end is left for the next read.
    """
    keep = 0 if final else incomplete_utf8_tail(data)
    usable = data[: len(data) - keep]
    return usable.decode("utf-8", errors="replace"), len(usable)


def skip_partial_line(data: bytes) -> int:
    """Where the first whole line of a chunk read from the middle of a file starts."""
    newline = data.find(b"\n")
    return newline + 1 if newline != -1 else 0
