"""How Azure ML renders a command: each ``${{inputs.x}}`` and ``${{outputs.y}}`` replaced by its value, once, with
no quoting added or removed (a value inside the user's own quotes arrives inside exactly those quotes), and each
optional segment ``$[[ ... ]]`` kept without its markers when every input in it has a value, dropped whole when
one has none. Plain square brackets are ordinary characters. Pure Python."""

from __future__ import annotations

import re
from typing import Any

from backends.bindings import NAME

PLACEHOLDER = re.compile(rf"\$\{{\{{\s*(inputs|outputs)\.({NAME})\s*\}}\}}")
OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)


def render_command(template: str, inputs: dict[str, Any | None], outputs: dict[str, str]) -> str:
    """The command a step runs. A placeholder outside an optional segment with no value is an error."""

    def value(kind: str, name: str) -> Any:
        values = inputs if kind == "inputs" else outputs
        if name not in values:
            raise ValueError(f"the command uses ${{{{{kind}.{name}}}}}, which was given no value")
        return values[name]

    def substitute(text: str) -> str:
        def one(match: re.Match) -> str:
            found = value(match[1], match[2])
            if found is None:
                raise ValueError(
                    f"the command uses ${{{{{match[1]}.{match[2]}}}}} outside $[[ ]], which has no value"
                )
            return word(found)

        return PLACEHOLDER.sub(one, text)

    def segment(match: re.Match) -> str:
        used = PLACEHOLDER.findall(match[1])
        if any(value(kind, name) is None for kind, name in used):
            return ""
        return substitute(match[1])

    # Segments first: their placeholders are replaced there, the rest's after, so no value is read twice.
    pieces, last = [], 0
    for match in OPTIONAL.finditer(template):
        pieces += [substitute(template[last : match.start()]), segment(match)]
        last = match.end()
    pieces.append(substitute(template[last:]))
    return "".join(pieces)


def word(value: Any) -> str:
    """A value as Azure ML writes it into a command: Python's spelling (True, 0.1, 1e-05), strings as they are."""
    return str(value)


def optional_inputs(template: str) -> set[str]:
    """The inputs a command uses only inside optional segments: they may be left without a value."""
    inside = {
        name
        for seg in OPTIONAL.findall(template)
        for kind, name in PLACEHOLDER.findall(seg)
        if kind == "inputs"
    }
    outside = {name for kind, name in PLACEHOLDER.findall(OPTIONAL.sub("", template)) if kind == "inputs"}
    return inside - outside
