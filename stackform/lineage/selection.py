"""The part of a lineage graph ``stackform lineage`` shows: the nodes a block, a table or a
column names, and what is upstream and downstream of them."""

from __future__ import annotations

from dataclasses import dataclass

from stackform.diagnostics import did_you_mean
from stackform.errors import StackformError
from stackform.lineage.model import LineageGraph


@dataclass(frozen=True)
class Selection:
    """The nodes asked about and those around them."""

    graph: LineageGraph
    start: frozenset[str]
    shown: frozenset[str]


def select(graph: LineageGraph, what: str | None, upstream: bool = True,
           downstream: bool = True) -> Selection:
    """The nodes of ``what`` (a block's address, a table or a column, as ``lineage`` shows
    them: ``transformers.dbt``, ``stg_orders``, ``stg_orders.amount``) and what is upstream
    and downstream of them; all of the graph when ``what`` is ``None``."""
    if what is None:
        everything = frozenset(graph.nodes)
        return Selection(graph, everything, everything)
    wanted = what.lower()
    start = {n.id for n in graph if n.resource.lower() == wanted}
    if not start:
        start = {n.id for n in graph
                 if n.name.lower() == wanted or n.table.lower() == wanted
                 or f"{n.resource}.{n.name}".lower() == wanted}
    if not start:
        names = {n.name for n in graph} | {n.resource for n in graph}
        raise StackformError(
            f"no block, table or column {what!r} in the lineage",
            hint=did_you_mean(what, names) or "`stackform lineage` lists every node; lineage "
            "is recorded by apply")
    shown = set(start)
    if downstream:
        shown |= graph.reach(start)
    if upstream:
        shown |= graph.reach(start, downstream=False)
    return Selection(graph, frozenset(start), frozenset(shown))


