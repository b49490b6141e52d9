"""A run's structure: steps in pipeline order, the edges between them, their outline, groups and failed path.

Pure: made from node ids and edges, it reads neither the database nor the cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from backends.base import RunStatus

# From this many steps, siblings with the same parents and the same children are drawn as one node.
COLLAPSE_FROM = 200
MIN_GROUP = 3
# A step named "<node>.<job>" is a job of the pipeline component run by <node>: the component's steps are drawn
# as one node, named <node>, until it is opened (Azure ML Studio shows a pipeline component so).
NESTED = "."
FAILED = frozenset({RunStatus.FAILED, RunStatus.NOT_RESPONDING})


Edge = tuple[str, str, str, str]  # source node, source output, target node, target input


@dataclass
class Structure:
    """Steps in pipeline order and the data edges between them (edges to unknown steps dropped)."""

    order: list[str]
    edges: list[Edge]
    parents: dict[str, list[str]]
    children: dict[str, list[str]]

    @classmethod
    def build(cls, node_ids: Iterable[str], edges: Iterable[Edge]) -> Structure:
        order = list(dict.fromkeys(node_ids))
        position = {n: i for i, n in enumerate(order)}
        kept: list[Edge] = []
        parents: dict[str, set[str]] = {n: set() for n in order}
        children: dict[str, set[str]] = {n: set() for n in order}
        for edge in edges:
            source, _, target, _ = edge
            if source in position and target in position and source != target:
                kept.append(tuple(edge))
                parents[target].add(source)
                children[source].add(target)
        return cls(
            order=order,
            edges=kept,
            parents={n: sorted(p, key=position.__getitem__) for n, p in parents.items()},
            children={n: sorted(c, key=position.__getitem__) for n, c in children.items()},
        )

    @cached_property
    def outline(self) -> list[tuple[str, int]]:
        """(node id, depth) in the order an indented list reads best.

        A topological order that follows one branch down before starting the next (Kahn's algorithm with a
        stack); depth is the longest path from a step without inputs from other steps.
        """
        waiting = {n: len(p) for n, p in self.parents.items()}
        depth: dict[str, int] = {}
        result: list[tuple[str, int]] = []
        stack = [n for n in reversed(self.order) if waiting[n] == 0]
        while stack:
            node = stack.pop()
            depth[node] = max((depth[p] + 1 for p in self.parents[node]), default=0)
            result.append((node, depth[node]))
            ready = []
            for child in self.children[node]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
            stack.extend(reversed(ready))  # children are in pipeline order; the first is popped first
        if len(result) < len(self.order):  # a cycle: a backend's bug, but the list must still show every step
            result.extend((n, 0) for n in self.order if n not in depth)
        return result

    @cached_property
    def groups(self) -> dict[str, list[str]]:
        """{key: members}: the steps of each pipeline component (key: its node's name, outer ones first), then,
        in big graphs, siblings fanned out from the same parents into the same children (key: the first member's
        node id, so an expanded group's URL stays readable and stable)."""
        nested: dict[str, list[str]] = {}
        for node in self.order:
            parts = node.split(NESTED)
            for depth in range(1, len(parts)):
                nested.setdefault(NESTED.join(parts[:depth]), []).append(node)
        groups = dict(sorted(nested.items(), key=lambda item: item[0].count(NESTED)))
        if len(self.order) < COLLAPSE_FROM:
            return groups
        by_neighbours: dict[tuple, list[str]] = {}
        for node in self.order:
            if NESTED not in node:
                key = (tuple(self.parents[node]), tuple(self.children[node]))
                by_neighbours.setdefault(key, []).append(node)
        groups.update(
            (members[0], members) for members in by_neighbours.values() if len(members) >= MIN_GROUP
        )
        return groups

    def failed_path(self, statuses: Mapping[str, str]) -> set[str]:
        """Failed steps, every step upstream of them, and every step downstream that they blocked."""
        failed = [n for n in self.order if statuses.get(n) in FAILED]
        return set(failed) | _reach(failed, self.parents) | _reach(failed, self.children)


def _reach(start: Iterable[str], neighbours: Mapping[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for n in neighbours[todo.pop()]:
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen
