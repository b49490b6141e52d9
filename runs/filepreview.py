"""What a file's first bytes look like on a page: text, JSON pretty-printed, a CSV or TSV table, an image, or
nothing. Pure functions of a name and bytes: the page reads the bytes (a bounded window) and renders the result.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass, field

# Served inline for an <img>: formats a browser draws and that cannot hold script. Never SVG.
IMAGE_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}
TABLE_DELIMITERS = {"csv": ",", "tsv": "\t"}
TABLE_ROWS = 50  # below the header
TABLE_COLUMNS = 100


@dataclass
class Preview:
    kind: str  # "text", "json", "table", "image" or "none"
    text: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    more_rows: bool = False  # the file has rows past those shown
    more_columns: bool = False
    note: str = ""  # why a JSON or CSV file shows as text


def extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def is_image(name: str) -> bool:
    return extension(name) in IMAGE_TYPES


def image_type(name: str) -> str:
    return IMAGE_TYPES[extension(name)]


def decode(data: bytes, cut: bool) -> str | None:
    """The window as text, or None when it looks binary (a NUL byte). A character cut by the window's end is
    left out; other bytes that are not UTF-8 show as replacement characters."""
    if b"\x00" in data:
        return None
    return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=not cut)


def preview(name: str, data: bytes, cut: bool) -> Preview:
    """``data``: the file's first bytes; ``cut``: the file goes on past them."""
    if is_image(name):
        return Preview("image")
    text = decode(data, cut)
    if text is None:
        return Preview("none")
    kind = extension(name)
    if kind == "json":
        if cut:
            return Preview(
                "text", text=text, note="The file goes on past this window, so it is shown as text."
            )
        try:
            return Preview("json", text=json.dumps(json.loads(text), indent=2, ensure_ascii=False))
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            return Preview("text", text=text, note="This could not be read as JSON, so it is shown as text.")
    if kind in TABLE_DELIMITERS:
        return table(text, TABLE_DELIMITERS[kind], cut) or Preview(
            "text", text=text, note="This could not be read as a table, so it is shown as text."
        )
    return Preview("text", text=text)


def table(text: str, delimiter: str, cut: bool) -> Preview | None:
    """The header and first TABLE_ROWS rows of delimited text; None when it does not parse."""
    if cut:  # the last line may be cut off
        text = text[: text.rfind("\n") + 1]
    rows: list[list[str]] = []
    more_rows = cut
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if len(rows) > TABLE_ROWS:
                more_rows = True
                break
            rows.append(row)
    except csv.Error:
        return None
    if not rows:
        return Preview("table")
    width = max(len(r) for r in rows)
    shown = min(width, TABLE_COLUMNS)
    padded = [(r + [""] * (shown - len(r)))[:shown] for r in rows]
    return Preview(
        "table",
        header=padded[0],
        rows=padded[1:],
        more_rows=more_rows,
        more_columns=width > shown,
    )
