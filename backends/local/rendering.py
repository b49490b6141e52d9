"""How Azure ML renders a command: ``${{inputs.x}}`` and ``${{outputs.y}}`` replaced by their values, optional
segments kept or dropped. Pure Python."""

from __future__ import annotations

import re
import shlex
from typing import Any

from backends.bindings import NAME

_PLACEHOLDER = re.compile(rf"\$\{{\{{\s*(inputs|outputs)\.({NAME})\s*\}}\}}")
_OPTIONAL_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def render_command(template: str, inputs: dict[str, Any | None], outputs: dict[str, str]) -> str:
    """The command with its ``${{inputs.x}}``/``${{outputs.y}}`` replaced, as Azure ML renders it.

    ``[--lr ${{inputs.lr}}]`` is Azure ML's optional segment: kept (without brackets) when every input in it
    has a value, dropped whole when one is None.
    """

    def value(kind: str, name: str) -> Any:
        values = inputs if kind == "inputs" else outputs
        if name not in values:
            raise ValueError(f"the command uses ${{{{{kind}.{name}}}}}, which was given no value")
        return values[name]

    def segment(match: re.Match) -> str:
        used = _PLACEHOLDER.findall(match[1])
        if not used:
            return match[0]
        return "" if any(value(kind, name) is None for kind, name in used) else match[1]

    text = _OPTIONAL_SEGMENT.sub(segment, template)
    return _PLACEHOLDER.sub(lambda m: _shell_word(value(m[1], m[2])), text)


def _shell_word(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return str(value)  # Python's spelling, as Azure ML's: True/False, 0.1, 1e-05
    return shlex.quote(str(value))
