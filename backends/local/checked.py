"""What the local engine's YAML loaders share: problems as file:line: field: message, every one reported at once,
values read from ruamel's round-trip nodes (with their lines) as plain Python ones, typed field readers, and
reading a file within backends.yamlfile's limits. Pure Python (no Django).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from backends import inputs, yamlfile
from backends.bindings import NAME

PATH_TYPES = ("uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model", "triton_model")
REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # azureml:, azureml://, https://, wasbs://, ...
BAD = object()  # a value that was reported as a problem


class SpecProblem(NamedTuple):
    file: str
    line: int  # 1-based; 0 when the problem is not in a file (e.g. a parameter given on a command line)
    field: str  # "" when the problem is the file's as a whole (missing, too big, not text)
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class SpecError(ValueError):
    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(map(str, self.problems)))

    @classmethod
    def refusing(cls, refused: yamlfile.YamlRefused) -> SpecError:
        """A file past a limit (or unreadable): its one problem, reported alone."""
        return cls([SpecProblem(refused.file, refused.line, refused.field, refused.message)])


def plain(value: Any) -> Any:
    """ruamel's round-trip scalars as plain Python values, so specs compare, copy and serialise simply."""
    if isinstance(value, (bool, ScalarBoolean)):
        return bool(value)
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def to_plain(value: Any) -> Any:
    """ruamel's round-trip values, nested ones too, as plain, JSON-ready Python ones."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, date):  # a datetime too
        return value.isoformat()
    return plain(value)


def python_type(value: Any) -> str | None:
    if isinstance(value, (bool, ScalarBoolean)):
        return "boolean"
    return {int: "integer", float: "number", str: "string"}.get(type(plain(value)))


def coerce(value: Any, type_: str) -> Any:
    """``value`` (a round-trip scalar too) as a ``type_`` literal; see backends.inputs.coerce."""
    return inputs.coerce(plain(value), type_)


def line_of(node: Any, key: Any = None) -> int:
    """The 1-based line of ``node`` (or of its ``key``), as ruamel read it."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return 1
    if key is not None and isinstance(node, dict) and key in node:
        return lc.key(key)[0] + 1
    return (lc.line or 0) + 1


def names(items: Any) -> str:
    return ", ".join(map(str, items)) or "none"


def sorted_problems(problems: list[SpecProblem], first: str) -> list[SpecProblem]:
    """The first file's problems first, then each other file's in the order first met, each in line order."""
    files = {first: 0}
    for problem in problems:
        files.setdefault(problem.file, len(files))
    return sorted(problems, key=lambda p: (files[p.file], p.line))


class File(NamedTuple):
    shown: str  # as problems name it: the path the user gave, or a path relative to that
    path: Path  # absolute

    @classmethod
    def given(cls, path: str | os.PathLike) -> File:
        return cls(os.fspath(path), Path(os.path.abspath(path)))


class CheckedLoader:
    """Reads YAML files within one budget, collecting problems instead of stopping at the first."""

    def __init__(self, budget: yamlfile.Budget | None = None) -> None:
        self.budget = budget or yamlfile.Budget()
        self.problems: list[SpecProblem] = []
        self.file = File("", Path())
        # Fields with a problem already, so that a check further on does not report them twice.
        self.reported: set[str] = set()

    def problem(self, line: int, where: str, message: str) -> None:
        self.problems.append(SpecProblem(self.file.shown, line, where, message))
        self.reported.add(where)

    @contextlib.contextmanager
    def reading(self, file: File) -> Iterator[tuple[str, Any]]:
        """The file's text and YAML (``BAD`` when it is not YAML); problems meanwhile are reported in it.

        A file past one of yamlfile's limits (or unreadable) stops the whole load: SpecError with that alone.
        """
        outer, self.file = self.file, file
        try:
            text = yamlfile.read_text(file.path, file.shown, self.budget)
            yield text, self.parse(text)
        except yamlfile.YamlRefused as refused:
            raise SpecError.refusing(refused) from None
        finally:
            self.file = outer

    def parse(self, text: str) -> Any:
        try:
            return yamlfile.parse(text, self.file.shown, self.budget)
        except YAMLError as error:
            line, message = yamlfile.error_line_and_message(error)
            self.problem(line, "yaml", message)
        return BAD

    # --- fields, each read as one kind; absent or null gives the default -------------------------------

    def wrong(self, node: dict, key: Any, prefix: str, wanted: str) -> None:
        self.problem(
            line_of(node, key), f"{prefix}{key}", f"expected {wanted}, got {to_plain(node.get(key))!r}"
        )

    def text(self, node: dict, key: str, default: Any = "", prefix: str = "") -> Any:
        value = node.get(key)
        if value is None:
            return default
        if isinstance(value, (dict, list)):
            self.wrong(node, key, prefix, "text")
            return default
        return str(plain(value))

    def boolean(self, node: dict, key: str, prefix: str = "", default: bool | None = False) -> bool | None:
        value = node.get(key)
        if value is None:
            return default
        if not isinstance(plain(value), bool):
            self.wrong(node, key, prefix, "true or false")
            return default
        return bool(value)

    def integer(self, node: dict, key: str, prefix: str = "", default: int | None = None) -> int | None:
        value = plain(node.get(key))
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            self.wrong(node, key, prefix, "a whole number")
            return default
        return value

    def seconds(self, node: dict, key: str, prefix: str = "") -> int | None:
        value = plain(node.get(key))
        if value is None:
            return None
        if python_type(value) != "integer" or value <= 0:
            self.wrong(node, key, prefix, "a whole number of seconds")
            return None
        return value

    def mapping(self, node: dict, key: str, prefix: str = "") -> dict:
        value = node.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.wrong(node, key, prefix, "a mapping")
            return {}
        return value

    def tags(self, node: dict, prefix: str = "") -> dict[str, str]:
        return {str(k): str(plain(v)) for k, v in self.mapping(node, "tags", prefix).items()}

    def valid_name(self, node: dict, name: Any, where: str) -> bool:
        if isinstance(name, str) and re.fullmatch(NAME, name):
            return True
        self.problem(
            line_of(node, name), where, f"{name!r} is not a name (letters, digits, _; no leading digit)"
        )
        return False

    def unknown_keys(self, node: dict, allowed: tuple, prefix: str) -> None:
        for key in node:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(allowed)}"
            self.problem(line_of(node, key), f"{prefix}{key}", f"unknown key '{key}' ({hint})")
