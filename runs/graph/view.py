"""What is shown of a structure: the reader's view (failed path, opened groups) and the nodes and links it draws.

Pure: it reads neither the database nor the cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlencode

from runs.graph.layout import LAYOUT_VERSION
from runs.graph.structure import MIN_GROUP, NESTED, Structure


@dataclass(frozen=True)
class GraphView:
    """What the reader asked to see, from the query string: ?view=failed, ?expand=<group key> (repeatable)."""

    failed_only: bool = False
    expanded: frozenset[str] = frozenset()
    expand_all: bool = False

    @classmethod
    def from_query(cls, query) -> GraphView:
        expand = [k for k in query.getlist("expand") if k]
        return cls(
            failed_only=query.get("view") == "failed",
            expanded=frozenset(k for k in expand if k != "all"),
            expand_all="all" in expand,
        )

    @property
    def is_default(self) -> bool:
        return self == GraphView()

    def query(self, **changes) -> str:
        """This view's query string (with ``changes``), "" for the default view."""
        view = GraphView(**{**self.__dict__, **changes})
        params = [("view", "failed")] if view.failed_only else []
        if view.expand_all:
            params.append(("expand", "all"))
        else:
            params.extend(("expand", k) for k in sorted(view.expanded))
        return "?" + urlencode(params) if params else ""

    def expanding(self, key: str) -> str:
        return self.query(expanded=self.expanded | {key})


@dataclass
class Node:
    key: str  # a step's node id, or a group's key
    members: tuple[str, ...]  # the steps it stands for
    is_group: bool = False


@dataclass
class Link:
    source: str
    target: str
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (output, input) of every edge it stands for

    @property
    def label(self) -> str:
        if len(self.pairs) == 1:
            return "{} → {}".format(*self.pairs[0])
        outputs = sorted({o for o, _ in self.pairs})
        inputs = sorted({i for _, i in self.pairs})
        if len(outputs) == 1 and len(inputs) == 1:
            count = f" \N{MULTIPLICATION SIGN}{len(self.pairs)}" if len(self.pairs) > 1 else ""
            return f"{outputs[0]} → {inputs[0]}{count}"
        left = outputs[0] if len(outputs) == 1 else f"{len(outputs)} outputs"
        right = inputs[0] if len(inputs) == 1 else f"{len(inputs)} inputs"
        return f"{left} → {right}"

    @property
    def detail(self) -> str:
        if len(self.pairs) == 1:
            return "{} → {}".format(*self.pairs[0])
        shown = [f"{o} → {i}" for o, i in sorted(self.pairs)[:12]]
        more = len(self.pairs) - len(shown)
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


@dataclass
class VisibleGraph:
    nodes: list[Node]  # in outline order
    links: list[Link]
    collapsed: int  # how many steps are hidden inside groups

    @cached_property
    def digest(self) -> str:
        """Names the layout: the same shown graph has the same layout, whatever the statuses."""
        shape = [
            LAYOUT_VERSION,
            [[n.key, list(n.members) if n.is_group else None] for n in self.nodes],
            [[link.source, link.target, link.label] for link in self.links],
        ]
        return hashlib.sha1(json.dumps(shape, separators=(",", ":")).encode()).hexdigest()[:20]


def is_nested(key: str, members: Iterable[str]) -> bool:
    """Whether a group is a pipeline component's steps (its key its node's name), not a fan-out."""
    return all(m.startswith(key + NESTED) for m in members)


def visible_graph(structure: Structure, view: GraphView, statuses: Mapping[str, str]) -> VisibleGraph:
    shown = structure.failed_path(statuses) if view.failed_only else None
    groups = {} if view.expand_all else structure.groups
    folded = {}  # group key -> its shown members, for the groups still collapsed
    group_of: dict[str, str] = {}  # step -> the collapsed group it is drawn in (the outermost)
    for key, members in groups.items():
        if key not in view.expanded:
            members = [m for m in members if (shown is None or m in shown) and m not in group_of]
            if len(members) >= (1 if is_nested(key, members) else MIN_GROUP):
                folded[key] = members
                group_of.update(dict.fromkeys(members, key))
    folded_drawn: set[str] = set()
    key_of: dict[str, str] = {}  # step -> the node it is drawn as
    nodes: list[Node] = []
    for node, _ in structure.outline:
        if shown is not None and node not in shown:
            continue
        group = group_of.get(node)
        if group is None:
            nodes.append(Node(node, (node,)))
        elif group not in folded_drawn:  # drawn where its first member comes in the outline
            folded_drawn.add(group)
            nodes.append(Node(group, tuple(folded[group]), is_group=True))
        key_of[node] = group or node
    collapsed = sum(len(m) for m in folded.values())
    links: dict[tuple[str, str], Link] = {}
    for source, output, target, input_ in structure.edges:
        a, b = key_of.get(source), key_of.get(target)
        if a is None or b is None or a == b:
            continue
        links.setdefault((a, b), Link(a, b)).pairs.append((output, input_))
    return VisibleGraph(nodes=nodes, links=list(links.values()), collapsed=collapsed)
