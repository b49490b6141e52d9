"""A pipeline input's value: Azure ML's literal types and the rules (enum, min, max) it must keep.

Shared by the local engine (submit --set, validate) and the pages' submit form, so that a value is refused alike
wherever it is typed. Plain Python values in, plain Python values out (the local engine's YAML loader turns its
round-trip scalars into plain ones first).
"""

from __future__ import annotations

from typing import Any

LITERAL_TYPES = ("string", "integer", "number", "boolean")


def coerce(value: Any, type_: str) -> Any:
    """``value`` as a ``type_`` literal; a string (from YAML, a command line or a form) is parsed."""
    if type_ == "string" and isinstance(value, (str, int, float)):
        return str(value)
    if type_ == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    elif type_ in ("integer", "number") and not isinstance(value, bool):
        parse = int if type_ == "integer" else float
        if isinstance(value, int) or (type_ == "number" and isinstance(value, float)):
            return parse(value)
        if isinstance(value, str):
            try:
                return parse(value.strip())
            except ValueError:
                pass
    article = "an" if type_[0] in "aeiou" else "a"
    raise ValueError(f"{value!r} is not {article} {type_}")


def rule_problem(value: Any, rules: dict[str, Any] | None) -> str | None:
    """What ``value`` breaks of an input's ``enum``, ``min`` and ``max``, as the end of a sentence; None if nothing."""
    if not rules or value is None:
        return None
    if rules.get("enum") is not None and value not in rules["enum"]:
        return f"is not one of {', '.join(map(repr, rules['enum']))}"
    if rules.get("min") is not None and isinstance(value, int | float) and value < rules["min"]:
        return f"is below the minimum, {rules['min']}"
    if rules.get("max") is not None and isinstance(value, int | float) and value > rules["max"]:
        return f"is above the maximum, {rules['max']}"
    return None


def combined_rules(*rules: dict[str, Any] | None) -> dict[str, Any]:
    """One set of rules that a value keeps exactly when it keeps every one of ``rules``: the enums' common values
    (in the first one's order), the highest minimum and the lowest maximum."""
    combined: dict[str, Any] = {}
    for each in rules:
        for key, value in (each or {}).items():
            if value is None:
                continue
            if key not in combined:
                combined[key] = list(value) if key == "enum" else value
            elif key == "enum":
                combined[key] = [v for v in combined[key] if v in value]
            else:
                combined[key] = max(combined[key], value) if key == "min" else min(combined[key], value)
    return combined
