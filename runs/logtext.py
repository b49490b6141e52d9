"""Turning a log's bytes into safe HTML: the way a terminal shows them, as text only.

- ANSI SGR (bold, dim, italic, underline, the 16 colours as foreground and background, reset) becomes
  ``<span class="ansi-...">``; 256-colour and truecolor map to the nearest of the 16. Classes only: the content
  security policy forbids inline styles. Other escape sequences (cursor moves, erase, titles) are dropped.
- A carriage return starts the line over: what follows the last ``\\r`` of a line is what shows ("\\r\\n" is a newline).
  The colour set before it still applies.
- Invalid UTF-8 shows as U+FFFD; other control characters as their Unicode control pictures (NUL as ␀).
- Every piece of text is HTML-escaped; markup is only what this module writes around it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html import escape

MAX_LINE_CHARS = 10_000  # a longer line is cut, with a link to see it whole

# ESC followed by: a CSI sequence (group 1: parameters, group 2: final byte), an OSC string ended by BEL or ST, or
# any other escape (charset selection, save cursor, ...). A lone ESC at the end is dropped too.
ESCAPE = re.compile(r"\x1b(?:\[([0-?]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -/]*[0-~])?")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything a terminal would interpret; tab and newline pass
NON_PRINTING = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)  # what is left after escapes and \r are handled

COLOURS = (
    "black",
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "white",
    "bright-black",
    "bright-red",
    "bright-green",
    "bright-yellow",
    "bright-blue",
    "bright-magenta",
    "bright-cyan",
    "bright-white",
)
# xterm's 16 colours, to find the nearest one to a 256-colour index or an RGB value.
_RGB16 = (
    (0, 0, 0),
    (205, 0, 0),
    (0, 205, 0),
    (205, 205, 0),
    (0, 0, 238),
    (205, 0, 205),
    (0, 205, 205),
    (229, 229, 229),
    (127, 127, 127),
    (255, 0, 0),
    (0, 255, 0),
    (255, 255, 0),
    (92, 92, 255),
    (255, 0, 255),
    (0, 255, 255),
    (255, 255, 255),
)


def nearest16(r: int, g: int, b: int) -> int:
    return min(
        range(16), key=lambda i: (_RGB16[i][0] - r) ** 2 + (_RGB16[i][1] - g) ** 2 + (_RGB16[i][2] - b) ** 2
    )


def _xterm256_rgb(index: int) -> tuple[int, int, int]:
    if index >= 232:
        level = 8 + 10 * (index - 232)
        return level, level, level
    index -= 16
    levels = [0 if v == 0 else 55 + 40 * v for v in (index // 36, index // 6 % 6, index % 6)]
    return levels[0], levels[1], levels[2]


PALETTE_256 = tuple(range(16)) + tuple(nearest16(*_xterm256_rgb(i)) for i in range(16, 256))


@dataclass
class Sgr:
    """The graphic rendition in effect: what SGR sequences have set so far."""

    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False
    fg: int | None = None
    bg: int | None = None
    _classes: dict = field(default_factory=dict, repr=False, compare=False)

    def reset(self) -> None:
        self.bold = self.dim = self.italic = self.underline = False
        self.fg = self.bg = None

    def apply(self, params: str) -> None:
        codes = [int(p) if p.isdigit() else 0 for p in params.replace(":", ";").split(";")]
        i = 0
        while i < len(codes):
            code = codes[i]
            i += 1
            if code == 0:
                self.reset()
            elif code == 1:
                self.bold = True
            elif code == 2:
                self.dim = True
            elif code == 3:
                self.italic = True
            elif code == 4:
                self.underline = True
            elif code == 22:
                self.bold = self.dim = False
            elif code == 23:
                self.italic = False
            elif code == 24:
                self.underline = False
            elif 30 <= code <= 37:
                self.fg = code - 30
            elif 90 <= code <= 97:
                self.fg = code - 90 + 8
            elif code == 39:
                self.fg = None
            elif 40 <= code <= 47:
                self.bg = code - 40
            elif 100 <= code <= 107:
                self.bg = code - 100 + 8
            elif code == 49:
                self.bg = None
            elif code in (38, 48):
                colour, i = _extended_colour(codes, i)
                if colour is not None:
                    if code == 38:
                        self.fg = colour
                    else:
                        self.bg = colour
            # anything else (blink, inverse, fonts, ...) is ignored

    def classes(self) -> str:
        key = (self.bold, self.dim, self.italic, self.underline, self.fg, self.bg)
        found = self._classes.get(key)
        if found is None:
            names = [
                name
                for on, name in (
                    (self.bold, "ansi-bold"),
                    (self.dim, "ansi-dim"),
                    (self.italic, "ansi-italic"),
                    (self.underline, "ansi-underline"),
                )
                if on
            ]
            if self.fg is not None:
                names.append(f"ansi-{COLOURS[self.fg]}")
            if self.bg is not None:
                names.append(f"ansi-bg-{COLOURS[self.bg]}")
            found = self._classes[key] = " ".join(names)
        return found


def _extended_colour(codes: list[int], i: int) -> tuple[int | None, int]:
    """A 38/48 colour's 16-colour index and where the parameters after it start."""
    if i < len(codes) and codes[i] == 5:
        if i + 1 < len(codes):
            return PALETTE_256[codes[i + 1] % 256], i + 2
        return None, len(codes)
    if i < len(codes) and codes[i] == 2:
        if i + 3 < len(codes):
            r, g, b = (min(255, c) for c in codes[i + 1 : i + 4])
            return nearest16(r, g, b), i + 4
        return None, len(codes)
    return None, i


def _printable(text: str) -> str:
    return NON_PRINTING.sub(lambda m: "\u2421" if m.group() == "\x7f" else chr(0x2400 + ord(m.group())), text)


def segments(text: str, sgr: Sgr) -> list[tuple[str, str]]:
    """The visible text of a line as (text, classes) pieces, with ``sgr`` carried through the line."""
    if not CONTROL.search(text):
        return [(text, sgr.classes())] if text else []
    text = text.rstrip("\r")
    if "\r" in text:
        *overwritten, text = text.split("\r")
        for part in overwritten:  # hidden by what follows, but their colours still apply
            for match in ESCAPE.finditer(part):
                if match.group(2) == "m":
                    sgr.apply(match.group(1))
    out: list[tuple[str, str]] = []
    pos = 0
    for match in ESCAPE.finditer(text):
        if match.start() > pos:
            out.append((_printable(text[pos : match.start()]), sgr.classes()))
        if match.group(2) == "m":
            sgr.apply(match.group(1))
        pos = match.end()
    if pos < len(text):
        out.append((_printable(text[pos:]), sgr.classes()))
    return out


def render_text(
    text: str, sgr: Sgr, *, highlight: re.Pattern[str] | None = None, limit: int | None = MAX_LINE_CHARS
) -> tuple[str, bool]:
    """HTML of one line's text and whether it was cut at ``limit`` characters."""
    pieces = segments(text, sgr)
    cut = False
    if limit is not None:
        shown = 0
        for i, (piece, classes) in enumerate(pieces):
            if shown + len(piece) > limit:
                pieces = [*pieces[:i], (piece[: limit - shown], classes)]
                cut = True
                break
            shown += len(piece)
    marks = _mark_ranges("".join(p for p, _ in pieces), highlight) if highlight else []
    html: list[str] = []
    pos = 0
    for piece, classes in pieces:
        inner = _marked(piece, pos, marks) if marks else escape(piece)
        pos += len(piece)
        html.append(f'<span class="{classes}">{inner}</span>' if classes else inner)
    return "".join(html), cut


def _mark_ranges(visible: str, highlight: re.Pattern[str]) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in highlight.finditer(visible) if m.end() > m.start()]


def _marked(piece: str, pos: int, marks: list[tuple[int, int]]) -> str:
    """``piece`` (starting at ``pos`` of the line's visible text) escaped, with the marked ranges in <mark>."""
    out: list[str] = []
    at = 0
    end = len(piece)
    for start, stop in marks:
        lo, hi = max(start - pos, at), min(stop - pos, end)
        if hi <= lo:
            continue
        out.append(escape(piece[at:lo]))
        out.append(f'<mark class="log-match">{escape(piece[lo:hi])}</mark>')
        at = hi
    out.append(escape(piece[at:]))
    return "".join(out)


def highlighter(query: str, *, case_sensitive: bool) -> re.Pattern[str] | None:
    if not query:
        return None
    return re.compile(re.escape(query), 0 if case_sensitive else re.IGNORECASE)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


# --- lines to HTML --------------------------------------------------------------------------


@dataclass(frozen=True)
class LineLinks:
    """How a rendered line links: to itself in the log (``?line=N#LN``) and, when cut, to its own view."""

    whole_line_url: str  # with {start} for the line's first byte
    query: str = ""  # carried into the line links (a search, so that highlights stay), already URL-encoded


def render_lines(
    lines: Iterable,
    links: LineLinks,
    *,
    sgr: Sgr | None = None,
    highlight: re.Pattern[str] | None = None,
    current: int | None = None,
    final: bool = True,
) -> str:
    """HTML of log lines (``lineindex.LogLine``): one <div id="L{n}"> each, its number a link to itself."""
    sgr = sgr or Sgr()
    return "".join(_render_lines(lines, links, sgr, highlight, current, final))


def _render_lines(lines, links: LineLinks, sgr: Sgr, highlight, current, final) -> Iterator[str]:
    extra = f"&amp;{escape(links.query)}" if links.query else ""
    for line in lines:
        data = line.data
        if not final and not line.complete:
            data = data[: len(data) - incomplete_utf8_tail(data)]  # the rest of the character is on its way
        html, cut = render_text(data.decode("utf-8", errors="replace"), sgr, highlight=highlight)
        if cut or line.clipped:
            url = escape(links.whole_line_url.format(start=line.start))
            html += (
                f'<a class="log-cut" href="{url}">… line cut ({human_size(line.length)}): show it whole</a>'
            )
        n = line.number
        if n is None:
            yield f"<div>{html}</div>"
            continue
        css = ' class="log-current"' if n == current else ""
        yield f'<div id="L{n}"{css}><a href="?line={n}{extra}#L{n}" data-n="{n}"></a>{html}</div>'


# --- byte ranges to text --------------------------------------------------------------------


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
