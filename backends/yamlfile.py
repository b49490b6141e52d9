"""Read a user's YAML file within limits that no real pipeline meets, so that a hostile file is refused at once.

A pipeline, a component or a schedule is a few kilobytes, nests a dozen levels at most and uses a handful of
anchors. Without limits a 50 MB file takes minutes to parse, a 20,000-deep list overflows the composer's
recursion, and a few hundred bytes of nested aliases (the "billion laughs") become billions of values the
moment something walks them. The limits below are far above what a real file needs and far below what does
harm; one ``Budget`` is shared by every file a load reads (a pipeline and its components, a schedule and its
pipeline), so that many files cannot add up to what one may not be.

Pure Python (no Django): the local engine's loaders and the Azure ML backend share it.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from ruamel.yaml.scanner import RoundTripScanner

MAX_FILE_BYTES = 1_000_000
MAX_LOAD_BYTES = 4_000_000  # every file of one load together
MAX_DEPTH = 64  # mappings and lists inside one another
MAX_NODES = 50_000  # values of one load, each alias counted as a copy of what it names

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_LOAD_BYTES",
    "MAX_NODES",
    "Budget",
    "YamlRefused",
    "error_line_and_message",
    "parse",
    "read_text",
]


class YamlRefused(ValueError):
    """A file that cannot be read, or is refused by a limit before or while it is parsed."""

    def __init__(self, file: str, line: int, field: str, message: str) -> None:
        self.file, self.line, self.field, self.message = file, line, field, message
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


@dataclass
class Budget:
    """What one load may still read: bytes of every file, and nodes with aliases expanded."""

    bytes: int = MAX_LOAD_BYTES
    nodes: int = MAX_NODES


def read_text(path: str | os.PathLike, shown: str, budget: Budget) -> str:
    """The file's text, refused when it cannot be read, is too big, or is not UTF-8 text."""

    def refuse(message: str, line: int = 0) -> YamlRefused:
        return YamlRefused(shown, line, "", message)

    try:
        if Path(path).is_dir():
            raise refuse("is a directory, not a YAML file")
        with open(path, "rb") as fh:
            # At most one byte past the limit: a device or a pipe has no size to look at first.
            raw = fh.read(MAX_FILE_BYTES + 1)
            size = os.fstat(fh.fileno()).st_size
    except FileNotFoundError:
        raise refuse("no such file") from None
    except PermissionError:
        raise refuse("permission denied") from None
    except OSError as error:
        raise refuse(f"cannot be read: {error.strerror or error}") from None
    if len(raw) > MAX_FILE_BYTES:
        found = f"{size:,} bytes" if size > MAX_FILE_BYTES else "the file"
        raise refuse(f"{found} exceeds the limit of {_megabytes(MAX_FILE_BYTES)} per YAML file")
    budget.bytes -= len(raw)
    if budget.bytes < 0:
        raise refuse(f"the files read together exceed the limit of {_megabytes(MAX_LOAD_BYTES)} for one load")
    if (nul := raw.find(b"\0")) >= 0:
        raise refuse("binary content (a NUL byte), not YAML text", _line_at(raw, nul))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        byte = raw[error.start]
        raise refuse(f"not UTF-8 text (byte 0x{byte:02x})", _line_at(raw, error.start)) from None


def parse(text: str, shown: str, budget: Budget) -> Any:
    """The document, loaded round-trip (keeping line numbers) within the depth and node limits.

    Raises YamlRefused past a limit, and ruamel's YAMLError when the text is not YAML.
    """
    yaml = YAML(typ="rt")
    yaml.Scanner, yaml.Constructor = _Scanner, _Constructor
    _Composer(yaml, budget)  # registers itself as the loader's composer, as ruamel's own does
    try:
        with warnings.catch_warnings():
            # ruamel warns (on stderr) of what it tolerates, such as a reused anchor; a command prints one line.
            warnings.simplefilter("ignore")
            return yaml.load(text)
    except _Limit as limit:
        raise YamlRefused(shown, limit.line, "yaml", limit.message) from None


def error_line_and_message(error: YAMLError) -> tuple[int, str]:
    """Where (1-based line) and what a parse error is, in the words a problem uses."""
    if isinstance(error, MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        detail = f"{error.problem} ({error.context})" if error.context else str(error.problem)
        return (mark.line + 1 if mark else 1), f"invalid YAML: {detail}"
    return 1, f"invalid YAML: {error}"


def _megabytes(n: int) -> str:
    return f"{n / 1_000_000:g} MB"


def _line_at(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


class _Limit(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


def _too_deep(line: int) -> _Limit:
    return _Limit(line, f"nests deeper than the limit of {MAX_DEPTH} levels")


class _Scanner(RoundTripScanner):
    """ruamel's scanner, stopping at the limit of nesting in ``[`` and ``{``.

    Any ``[`` may start a key, so the scanner reads up to 1,024 characters ahead of the parser, weighing each
    against every bracket still open: a line of thousands of ``[`` would take seconds before the composer sees
    the first one nest too deep.
    """

    def fetch_flow_collection_start(self, token_class: Any, to_push: str) -> None:
        if len(self.flow_context) >= MAX_DEPTH:
            raise _too_deep(self.reader.line + 1)
        super().fetch_flow_collection_start(token_class, to_push)


class _Composer(Composer):
    """ruamel's composer, counting as it goes: levels of nesting, and nodes with every alias expanded.

    ruamel composes recursively and shares an anchor's node between its aliases, so neither the depth nor an
    alias's cost shows until too late; both are checked here, before the node is composed.
    """

    def __init__(self, loader: YAML, budget: Budget) -> None:
        super().__init__(loader=loader)
        self.budget = budget
        self.warn_double_anchors = False
        self.levels = 0
        self.composed = 0  # nodes so far, aliases expanded
        self.sizes: dict[str, int] = {}  # anchor -> nodes of the value it names, aliases expanded

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            name = event.anchor
            if name in self.anchors and name not in self.sizes:
                raise _Limit(line, f"alias *{name} is inside the value it names, which would never end")
            self.spend(self.sizes.get(name, 0), line, f"alias *{name}: ")  # an unknown one ruamel reports
            return super().compose_node(parent, index)
        nests = isinstance(event, (MappingStartEvent, SequenceStartEvent))
        if nests and self.levels >= MAX_DEPTH:
            raise _too_deep(line)
        before = self.composed
        self.spend(1, line)
        if event.anchor is not None:
            self.sizes.pop(event.anchor, None)  # a reused anchor names a new value from here on
        self.levels += nests
        node = super().compose_node(parent, index)
        self.levels -= nests
        if event.anchor is not None:
            self.sizes[event.anchor] = self.composed - before
        return node

    def spend(self, nodes: int, line: int, what: str = "") -> None:
        self.composed += nodes
        self.budget.nodes -= nodes
        if self.budget.nodes < 0:
            message = f"{what}exceeds the limit of {MAX_NODES:,} values (each alias counted as a copy)"
            raise _Limit(line, message)


class _Constructor(RoundTripConstructor):
    """ruamel's round-trip constructor, whose conversion errors name the line they come from.

    Python refuses to convert an integer of more than 4,300 digits, and a date like 2024-13-01 is no date: both
    raise a bare ValueError, which would otherwise escape as a traceback without a line.
    """

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as error:
            raise ConstructorError(None, None, str(error), node.start_mark) from None
