"""Reading what a job file declares: inputs (typed, with defaults, ranges and enums), outputs, and literal values
(local paths checked to exist, remote ones resolved through backends.local.datarefs). Pure Python."""

from __future__ import annotations

import os
from typing import Any

from backends.inputs import LITERAL_TYPES, rule_problem
from backends.local import datarefs
from backends.local.checked import (
    BAD,
    PATH_TYPES,
    REMOTE,
    CheckedLoader,
    coerce,
    line_of,
    names,
    plain,
    python_type,
)
from backends.local.spec import InputSpec, OutputSpec


class DeclarationReading(CheckedLoader):
    """The inputs and outputs of a pipeline, a component or a command job. Expects ``self.config`` (EngineConfig)."""

    def value(self, node: dict, prefix: str, key: str, expected: str, default: Any = None) -> Any:
        """``node[key]`` when it is of the ``expected`` kind; absent or null gives ``default``."""
        read = {
            "text": lambda: self.text(node, key, default, prefix),
            "boolean": lambda: self.boolean(node, key, prefix, default),
            "mapping": lambda: self.mapping(node, key, prefix) or default,
            "seconds": lambda: self.seconds(node, key, prefix),
        }
        return read[expected]()

    def inputs(self, doc: dict, prefix: str, typed: bool) -> dict[str, InputSpec]:
        node = self.value(doc, prefix, "inputs", "mapping", {})
        specs = {}
        for name in node:
            where = f"{prefix}inputs.{name}"
            if self.valid_name(node, name, where) and (
                spec := self.input_declaration(node, name, where, typed)
            ):
                specs[name] = spec
        return specs

    def input_declaration(self, node: dict, name: str, where: str, typed: bool) -> InputSpec | None:
        decl = node[name]
        if not isinstance(decl, dict):
            # A pipeline input may be a bare literal (lr: 0.01); a component input is always declared.
            type_ = None if typed else python_type(decl)
            if type_ is None:
                self.problem(
                    line_of(node, name), where, "expected a mapping with a type, e.g. {type: string}"
                )
                return None
            return InputSpec(name, type_, plain(decl))
        datarefs.check_mode(self, decl, where)
        key = next((k for k in ("default", "value", "path") if decl.get(k) is not None), None)
        type_ = decl.get("type")
        if type_ is None and not typed:
            type_ = "uri_folder" if key == "path" else python_type(decl.get(key))
        if type_ not in LITERAL_TYPES + PATH_TYPES:
            problem = "missing type" if type_ is None else f"unknown type {type_!r}"
            message = f"{problem} (one of {names(LITERAL_TYPES + PATH_TYPES)})"
            self.problem(line_of(decl, "type"), f"{where}.type", message)
            return None
        default = (
            None if key is None else self.literal(line_of(decl, key), f"{where}.{key}", type_, decl[key])
        )
        spec = InputSpec(
            name=name,
            type=str(type_),
            default=None if default is BAD else default,
            # A bad default is reported here; optional spares each job using it a misleading "missing input".
            optional=default is BAD or self.value(decl, f"{where}.", "optional", "boolean", False),
            description=self.value(decl, f"{where}.", "description", "text", ""),
            **self.rules(decl, where, str(type_)),
        )
        if default not in (None, BAD) and (problem := rule_problem(default, spec.rules)):
            self.problem(line_of(decl, key), f"{where}.{key}", f"{default!r} {problem}")
        return spec

    def rules(self, decl: dict, where: str, type_: str) -> dict[str, Any]:
        """An input's ``enum`` (a string's values) and ``min``/``max`` (a number's bounds), as Azure ML reads them."""
        found: dict[str, Any] = {}
        if decl.get("enum") is not None:
            values = decl["enum"]
            if type_ != "string" or not isinstance(values, list) or not values:
                self.problem(
                    line_of(decl, "enum"), f"{where}.enum", "expected a list of values of a string input"
                )
            else:
                found["enum"] = [str(plain(v)) for v in values]
        for bound in ("min", "max"):
            if decl.get(bound) is None:
                continue
            value = plain(decl[bound])
            if (
                type_ not in ("integer", "number")
                or isinstance(value, bool)
                or not isinstance(value, int | float)
            ):
                self.problem(
                    line_of(decl, bound), f"{where}.{bound}", f"expected a number bounding a {type_} input"
                )
            else:
                found[bound] = value
        if "min" in found and "max" in found and found["min"] > found["max"]:
            self.problem(line_of(decl, "min"), f"{where}.min", f"is above max ({found['max']})")
        return found

    def literal(self, line: int, where: str, type_: str | None, raw: Any) -> Any:
        """``raw`` as a value of ``type_``: a typed Python value, or an absolute local path."""
        if type_ is None:
            self.problem(line, where, f"expected a value or a ${{{{...}}}} binding, got {plain(raw)!r}")
            return BAD
        if type_ not in PATH_TYPES:
            try:
                return coerce(raw, type_)
            except ValueError as error:
                self.problem(line, where, str(error))
                return BAD
        local = str(raw).removeprefix("file:")
        if isinstance(raw, str) and REMOTE.match(local):  # a URL, or an Azure ML reference to resolve
            location = datarefs.check_location(self, line, where, type_, local)
            return BAD if location is None else location
        if not isinstance(raw, str):
            self.problem(
                line, where, f"{plain(raw)!r} is not a local path; the local engine reads local files"
            )
            return BAD
        path = os.path.normpath(self.file.path.parent / local)
        other_kind = {"uri_file": os.path.isdir, "uri_folder": os.path.isfile}.get(type_)
        if not os.path.exists(path):
            self.problem(line, where, f"path '{raw}' does not exist ({path})")
        elif other_kind and other_kind(path):
            self.problem(line, where, f"path '{raw}' is not a {type_[4:]}, as a {type_} needs")
        return path

    def outputs(self, doc: dict, prefix: str) -> dict[str, OutputSpec]:
        node = self.value(doc, prefix, "outputs", "mapping", {})
        specs = {}
        for name, decl in node.items():
            where = f"{prefix}outputs.{name}"
            if not self.valid_name(node, name, where):
                continue
            if decl is not None and not isinstance(decl, dict):
                self.problem(line_of(node, name), where, "expected a mapping, e.g. {type: uri_folder}")
                continue
            specs[name] = OutputSpec(name, self.mapping_type(decl or {}, where) or "uri_folder")
        return specs

    def mapping_type(self, decl: dict, where: str) -> str | None:
        datarefs.check_mode(self, decl, where)
        type_ = decl.get("type")
        if type_ is not None and type_ not in PATH_TYPES + LITERAL_TYPES:
            self.problem(line_of(decl, "type"), f"{where}.type", f"unknown type {type_!r}")
            return None
        return type_ and str(type_)
