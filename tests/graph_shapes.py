"""Shapes of step graphs that several test modules draw: a fan-out, nested pipeline components."""

from __future__ import annotations


def fan_out(width: int, prefix: str = "shard") -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """split → width shards → merge → report: the shape of examples/fan-out, wider."""
    shards = [f"{prefix}_{i:03d}" for i in range(width)]
    edges = [("split", "parts", s, "parts") for s in shards]
    edges += [(s, "result", "merge", s) for s in shards]
    edges.append(("merge", "merged", "report", "folder"))
    return ["split", *shards, "merge", "report"], edges


NESTED_STEPS = [
    "prep",
    "careful.train",
    "careful.evaluate",
    "quick.train",
    "quick.inner.a",
    "quick.inner.b",
    "compare",
]
NESTED_EDGES = [
    ("prep", "prepared", "careful.train", "prepared"),
    ("careful.train", "model", "careful.evaluate", "model"),
    ("prep", "prepared", "quick.train", "prepared"),
    ("quick.train", "model", "quick.inner.a", "model"),
    ("quick.inner.a", "x", "quick.inner.b", "x"),
    ("careful.evaluate", "report", "compare", "careful"),
    ("quick.inner.b", "report", "compare", "quick"),
]
