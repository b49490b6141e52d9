"""Reading components: a command component's command, code and environment, a pipeline component's jobs, and
the component files jobs name, each read once however many jobs use it. Pure Python."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.bindings import expressions
from backends.local.checked import (
    BAD,
    REMOTE,
    File,
    line_of,
    names,
)
from backends.local.declarations import DeclarationReading
from backends.local.nested import MAX_DEPTH, producer
from backends.local.spec import InputSpec, OutputSpec, PipelineSpec


@dataclass
class Component:
    path: str | None
    name: str
    display_name: str
    command: str
    code: str | None
    environment: str
    environment_definition: dict | None
    is_deterministic: bool
    inputs: dict[str, InputSpec]
    outputs: dict[str, OutputSpec]
    pipeline: PipelineSpec | None = None  # a pipeline component's jobs; None for a command component


class ComponentReading(DeclarationReading):
    """Expects ``self.components`` (path -> component read), ``self.loading`` (the component files being read) and
    ``pipeline_spec`` (from the loader)."""

    def command(self, node: dict, prefix: str, inputs: Any, outputs: Any, line: int) -> str:
        where = f"{prefix}command"
        command = self.value(node, prefix, "command", "text", "")
        if not command.strip():
            self.problem(line, where, "no command: a command job needs a command to run")
        line = line_of(node, "command")
        for raw, inner in expressions(command):
            kind, _, name = (inner or "").partition(".")
            declared = {"inputs": inputs, "outputs": outputs}.get(kind)
            if inner is None:
                self.problem(line, where, f"malformed expression {raw!r}")
            elif declared is None or "." in name:
                self.problem(
                    line,
                    where,
                    f"{raw} is not allowed in a command; use ${{{{inputs.x}}}} or ${{{{outputs.y}}}}",
                )
            elif name not in declared:
                self.problem(line, where, f"{raw}: no {kind[:-1]} '{name}' is declared ({names(declared)})")
        return command

    def code(self, node: dict, prefix: str) -> str | None:
        code = self.value(node, prefix, "code", "text")
        if code is None:
            return None
        local = code.removeprefix("file:")
        path = os.path.normpath(self.file.path.parent / local)
        if REMOTE.match(local) or not os.path.isdir(path):
            self.problem(
                line_of(node, "code"),
                f"{prefix}code",
                f"code folder '{code}' not found on this machine ({path})",
            )
        return path

    def component(self, doc: Any, prefix: str, path: str | None, text: str = "") -> Component | None:
        if not isinstance(doc, dict):
            empty = "empty file: " if doc is None else ""
            self.problem(
                line_of(doc), prefix.rstrip(".") or "(root)", f"{empty}expected a command component mapping"
            )
            return None
        if doc.get("type") == "pipeline":
            return self.pipeline_component(doc, prefix, path, text)
        if doc.get("type", "command") != "command":
            message = f"component type {doc['type']!r} is not supported by the local engine (only command and pipeline)"
            self.problem(line_of(doc, "type"), f"{prefix}type", message)
            return None
        inputs, outputs = self.inputs(doc, prefix, typed=True), self.outputs(doc, prefix)
        name = self.value(doc, prefix, "name", "text", "")
        return Component(
            path=path,
            name=name or (Path(path).stem if path else ""),
            display_name=self.value(doc, prefix, "display_name", "text", ""),
            # Checked against the names declared, so a declaration with a problem is not reported twice.
            command=self.command(
                doc, prefix, as_mapping(doc.get("inputs")), as_mapping(doc.get("outputs")), line_of(doc)
            ),
            code=self.code(doc, prefix),
            environment=environment_name(doc.get("environment")),
            environment_definition=self.environment_definition(doc, prefix),
            is_deterministic=self.value(doc, prefix, "is_deterministic", "boolean", True),
            inputs=inputs,
            outputs=outputs,
        )

    def pipeline_component(self, doc: dict, prefix: str, path: str | None, text: str) -> Component:
        """A ``type: pipeline`` component: inputs declared with types and defaults, and jobs of its own."""
        first = len(self.problems)
        inner = self.pipeline_spec(File(self.file.shown, self.file.path), text, doc, typed=True)
        if prefix:  # an inline component: its problems are at its place in the outer file
            self.problems[first:] = [p._replace(field=prefix + p.field) for p in self.problems[first:]]
        for name in inner.outputs:
            if producer(inner, name) is None:
                self.problem(line_of(doc.get("outputs"), name), f"{prefix}outputs.{name}", "no job writes it")
        return Component(
            path=path,
            name=inner.name or (Path(path).stem if path else ""),
            display_name=inner.display_name,
            command="",
            code=None,
            environment="",
            environment_definition=None,
            is_deterministic=True,
            inputs=inner.inputs,
            outputs=inner.outputs,
            pipeline=inner,
        )

    def component_file(self, job: dict, where: str) -> Component | None:
        ref = job["component"]
        if isinstance(ref, dict):
            return self.component(ref, f"{where}.", None)
        local = str(ref).removeprefix("file:")
        if REMOTE.match(local):
            message = (
                f"{ref!r}: registered components cannot run in the local engine; use a local component file"
            )
            self.problem(line_of(job, "component"), where, message)
            return None
        path = Path(os.path.normpath(self.file.path.parent / local))
        if not path.is_file():
            self.problem(line_of(job, "component"), where, f"component file '{ref}' not found ({path})")
            return None
        if path in self.loading:
            chain = " -> ".join(p.name for p in [*self.loading[self.loading.index(path) :], path])
            self.problem(line_of(job, "component"), where, f"pipeline components include each other: {chain}")
            return None
        if len(self.loading) >= MAX_DEPTH:
            message = f"pipeline components nested deeper than {MAX_DEPTH}; the local engine stops there"
            self.problem(line_of(job, "component"), where, message)
            return None
        if path not in self.components:
            self.components[path] = None  # read once however many jobs use it, so its problems show once
            shown = os.path.normpath(os.path.join(os.path.dirname(self.file.shown), local))
            self.loading.append(path)
            try:
                with self.reading(File(shown, path)) as (text, doc):
                    if doc is not BAD:
                        self.components[path] = self.component(doc, "", str(path), text)
            finally:
                self.loading.pop()
        return self.components[path]


def as_mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def environment_name(value: Any) -> str:
    if isinstance(value, dict):  # an inline environment definition: its image names it best
        return str(value.get("image") or value.get("name") or "")
    return "" if value is None else str(value)
