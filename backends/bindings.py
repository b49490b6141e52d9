"""Azure ML's binding expressions (``${{parent.jobs.a.outputs.b}}``) and the step graph they define.

Shared by the local engine's loader and the Azure ML adapter, so that both draw the same edges from the same
``jobs:`` mapping. Pure Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from backends.base import GraphEdge

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")
INPUT_REF = re.compile(rf"(?:parent\.)?inputs\.({NAME})")
STEP_REF = re.compile(rf"(?:parent\.)?jobs\.({NAME})\.outputs\.({NAME})")
OUTPUT_REF = re.compile(rf"(?:parent\.)?outputs\.({NAME})")


def expressions(text: str) -> list[tuple[str, str | None]]:
    """Each ``${{...}}`` in ``text`` with its dotted inner name, or None when it is malformed."""
    found: list[tuple[str, str | None]] = []
    for match in EXPRESSION.finditer(text):
        inner = match[1].strip()
        found.append((match[0], inner if re.fullmatch(rf"{NAME}(\.{NAME})*", inner) else None))
    rest = EXPRESSION.sub("", text)
    if "${{" in rest:
        found.append((rest[rest.index("${{") :][:40], None))
    return found


def single_expression(text: str) -> str:
    found = expressions(text)
    if len(found) != 1 or found[0][1] is None or found[0][0] != text.strip():
        raise ValueError(
            f"malformed expression {text!r}: a binding is exactly one ${{{{...}}}} of dotted names"
        )
    return found[0][1]


def step_output_ref(value: Any) -> tuple[str, str] | None:
    """(job, output) when ``value`` binds another job's output, as a string or as {"path": ...}."""
    if isinstance(value, Mapping):
        value = value.get("path") or value.get("value")
    if not isinstance(value, str) or "${{" not in value:
        return None
    try:
        inner = single_expression(value)
    except ValueError:
        return None
    match = STEP_REF.fullmatch(inner)
    return (match[1], match[2]) if match else None


def edges_of(jobs: Mapping[str, Mapping[str, Any]]) -> list[GraphEdge]:
    """The edges a pipeline's ``jobs:`` draw: one per input bound to another job's output."""
    edges = []
    for target, job in jobs.items():
        inputs = job.get("inputs") if isinstance(job, Mapping) else None
        for name, value in (inputs or {}).items():
            ref = step_output_ref(value)
            if ref and ref[0] in jobs:
                edges.append(GraphEdge(ref[0], ref[1], target, str(name)))
    return edges


def topological_order(nodes: Iterable[str], edges: Iterable[GraphEdge]) -> list[str]:
    """Each node after the nodes it reads from; among the ready ones, the earliest given first.

    Nodes on a cycle (which a valid pipeline has not) come last, in the order given.
    """
    names = list(dict.fromkeys(nodes))
    upstream: dict[str, set[str]] = {n: set() for n in names}
    for edge in edges:
        if edge.target_node in upstream and edge.source_node in upstream:
            upstream[edge.target_node].add(edge.source_node)
    order: list[str] = []
    placed: set[str] = set()
    pending = list(names)
    while pending:
        ready = next((n for n in pending if upstream[n] <= placed), None)
        if ready is None:
            order += pending
            break
        order.append(ready)
        placed.add(ready)
        pending.remove(ready)
    return order
