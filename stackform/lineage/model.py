"""The lineage of a stack as data: nodes, edges, one provider's fragment, and the joined graph.

A node is one column (or a whole table, ``column`` ``None``) as one resource knows it:
``(resource address, table, column)`` plus its ``type`` (``stream``, ``table``, ``source``,
``model``, ``test``...; the provider's word, shown to people). An edge says data flows from one
node into another. A provider describes what its resource reads and writes as a
:class:`LineageFragment`; its edges may start at nodes of the fragments upstream of it (a
loader's columns come from the extractor's properties), never end at one. Core joins the
fragments of an environment into one :class:`LineageGraph` (:mod:`stackform.lineage.join`).

The JSON forms (:meth:`LineageFragment.to_json`, :meth:`LineageGraph.to_json`) are a stable,
documented schema (docs/lineage.md); ``version`` changes when they do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Node:
    """One column, or one table when ``column`` is ``None``, as one resource knows it."""

    resource: str
    table: str
    column: str | None = None
    type: str = field(default="column", compare=False)
    """What it is, in the provider's word: ``stream``, ``table``, ``source``, ``model``..."""
    relation: str | None = field(default=None, compare=False)
    """The warehouse relation it is (or is a column of), ``schema.table`` lower-cased, when it
    is one: how a block downstream finds the nodes of what it reads (dbt a loader's table, a
    BI dataset a dbt model)."""
    data_type: str | None = field(default=None, compare=False)
    """The column's type when its provider knows it (a Singer property's JSON schema type, a
    dbt column's SQL type, a warehouse column's): a change of it is a *retype*."""

    def __lt__(self, other: Node) -> bool:
        return self.id < other.id

    @property
    def id(self) -> str:
        """``resource|table|column`` (``resource|table|`` for a table): unique in a graph."""
        return f"{self.resource}|{self.table}|{self.column or ''}"

    @property
    def name(self) -> str:
        """``stg_orders.amount``, or ``stg_orders`` for a table."""
        return f"{self.table}.{self.column}" if self.column else self.table

    @property
    def label(self) -> str:
        """``model stg_orders.amount``: its type and name, as plans and ``lineage`` show it."""
        return f"{self.type} {self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "resource": self.resource, "table": self.table,
                "column": self.column, "type": self.type, "relation": self.relation,
                "data_type": self.data_type}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Node:
        return cls(str(data["resource"]), str(data["table"]),
                   None if data.get("column") is None else str(data["column"]),
                   str(data.get("type") or "column"),
                   None if data.get("relation") is None else str(data["relation"]),
                   None if data.get("data_type") is None else str(data["data_type"]))


@dataclass(frozen=True)
class LineageFragment:
    """What one resource says about its data: its nodes, the edges into them, and whether it
    could say everything (``complete``; ``warnings`` say what is missing and why)."""

    nodes: tuple[Node, ...] = ()
    edges: tuple[tuple[str, str], ...] = ()
    """``(from node id, to node id)``; ``to`` is always a node of this fragment."""
    warnings: tuple[str, ...] = ()
    complete: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(sorted(set(self.nodes))))
        object.__setattr__(self, "edges", tuple(sorted(set(self.edges))))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "nodes": [n.to_json() for n in self.nodes],
            "edges": [{"from": a, "to": b} for a, b in self.edges],
            "warnings": list(self.warnings),
            "complete": self.complete,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LineageFragment:
        if data.get("version") != SCHEMA_VERSION:
            raise ValueError(f"lineage schema version {data.get('version')!r}, not "
                             f"{SCHEMA_VERSION}")
        return cls(tuple(Node.from_json(n) for n in data.get("nodes", ())),
                   tuple((str(e["from"]), str(e["to"])) for e in data.get("edges", ())),
                   tuple(str(w) for w in data.get("warnings", ())),
                   bool(data.get("complete", True)))


class LineageGraph:
    """The joined lineage of one environment: every fragment's nodes and edges, walkable both
    ways. Edges whose start is no node of the graph are dropped (the upstream resource said
    nothing of it) and make the graph incomplete."""

    def __init__(self, fragments: Mapping[str, LineageFragment]) -> None:
        self.fragments = dict(fragments)
        self.nodes: dict[str, Node] = {}
        for fragment in fragments.values():
            for node in fragment.nodes:
                self.nodes[node.id] = node
        self._down: dict[str, set[str]] = {}
        self._up: dict[str, set[str]] = {}
        self.warnings: list[str] = []
        self.complete = True
        for address, fragment in sorted(fragments.items()):
            self.warnings.extend(f"{address}: {w}" for w in fragment.warnings)
            self.complete = self.complete and fragment.complete
            for a, b in fragment.edges:
                if a in self.nodes and b in self.nodes:
                    self._down.setdefault(a, set()).add(b)
                    self._up.setdefault(b, set()).add(a)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.nodes

    def __iter__(self) -> Iterator[Node]:
        return iter(sorted(self.nodes.values()))

    def downstream_of(self, node_id: str) -> list[Node]:
        return [self.nodes[n] for n in sorted(self._down.get(node_id, ()))]

    def upstream_of(self, node_id: str) -> list[Node]:
        return [self.nodes[n] for n in sorted(self._up.get(node_id, ()))]

    def edges(self) -> list[tuple[str, str]]:
        return sorted((a, b) for a, bs in self._down.items() for b in bs)

    def reach(self, start: Iterable[str], downstream: bool = True) -> set[str]:
        """Every node reachable from ``start`` (not including it unless on a cycle)."""
        step = self._down if downstream else self._up
        seen: set[str] = set()
        todo = [n for s in start for n in step.get(s, ())]
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(step.get(node, ()))
        return seen

    def paths_from(self, node_id: str, limit: int = 50) -> list[tuple[Node, ...]]:
        """Each path from ``node_id`` (excluded) down to a node with nothing downstream, in a
        stable order; at most ``limit`` (a wide fan-out is cut, never looped)."""
        out: list[tuple[Node, ...]] = []

        def walk(at: str, path: tuple[str, ...]) -> None:
            if len(out) >= limit:
                return
            nxt = [n for n in sorted(self._down.get(at, ())) if n not in path]
            if not nxt:
                if path:
                    out.append(tuple(self.nodes[n] for n in path))
                return
            for n in nxt:
                walk(n, (*path, n))

        walk(node_id, ())
        return out

    def to_json(self, node_ids: Iterable[str] | None = None) -> dict[str, Any]:
        """The graph (or the part of it among ``node_ids``) in the documented schema."""
        keep = set(self.nodes) if node_ids is None else set(node_ids) & set(self.nodes)
        return {
            "version": SCHEMA_VERSION,
            "complete": self.complete,
            "warnings": list(self.warnings),
            "nodes": [self.nodes[n].to_json() for n in sorted(keep)],
            "edges": [{"from": a, "to": b} for a, b in self.edges() if a in keep and b in keep],
        }
