"""What a plan's changes break downstream: the lineage before and after, compared and walked.

A node of the graph before the plan that the graph after it no longer has is *removed* (a
property deselected, a stream dropped, a model's column removed or renamed); what is downstream
of it in the graph before *breaks*. A node only after is *added*, and what is downstream of it
in the graph after is *affected*: additions never break anything. A node in both whose type
is known on both sides and differs is *retyped* (a Singer property's schema type, a dbt column's
cast): what reads it, in the graph after, breaks like what reads a removed node. A removed or
retyped node is reported once, at the root of what changes (a deselected property, not each
column fed from it).

The result is the plan's ``impact``, in the documented JSON schema (docs/lineage.md):
``{"version", "complete", "warnings", "breaking": [entry], "affecting": [entry]}``, each entry
``{"change": "remove" | "add" | "retype", "node": node, "paths": [[node, ...], ...]}``, a
retype with ``"was"``, the type before (``node`` carries the type after).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stackform.lineage.model import SCHEMA_VERSION, LineageGraph, Node

PATHS_SHOWN = 50
"""At most this many paths per changed node (a wide fan-out is cut, and says so)."""


def _roots(graph: LineageGraph, changed: set[str]) -> list[str]:
    """The changed nodes none of whose upstream nodes changed too."""
    return sorted(n for n in changed
                  if not any(u.id in changed for u in graph.upstream_of(n)))


def _entry(change: str, node: Node, paths: Iterable[tuple[Node, ...]]) -> dict[str, Any]:
    return {"change": change, "node": node.to_json(),
            "paths": [[n.to_json() for n in path] for path in paths]}


def _retyped(before: LineageGraph, after: LineageGraph) -> dict[str, str]:
    """The nodes in both graphs whose type is known in both and differs: node -> old type."""
    out = {}
    for node_id, old in before.nodes.items():
        new = after.nodes.get(node_id)
        if new is not None and old.data_type and new.data_type \
                and old.data_type != new.data_type:
            out[node_id] = old.data_type
    return out


def compare(before: LineageGraph, after: LineageGraph) -> dict[str, Any]:
    """The impact of going from ``before`` to ``after``.

    A resource whose fragment after is incomplete (its provider could not work out all of
    it) removes nothing: what it no longer lists is unknown, not gone; the impact is then
    incomplete and its warnings say why."""
    unsure = {a for a, f in after.fragments.items() if not f.complete}
    removed = {n for n, node in before.nodes.items()
               if n not in after.nodes and node.resource not in unsure}
    breaking: list[dict[str, Any]] = []
    affecting: list[dict[str, Any]] = []
    for root in _roots(before, removed):
        paths = before.paths_from(root, PATHS_SHOWN)
        (breaking if paths else affecting).append(_entry("remove", before.nodes[root], paths))
    retyped = _retyped(before, after)
    for root in sorted(retyped):
        # A column retyped as what it reads (through columns of unknown type too) is no root.
        if retyped.keys() & after.reach([root], downstream=False):
            continue
        paths = after.paths_from(root, PATHS_SHOWN)
        entry = {**_entry("retype", after.nodes[root], paths), "was": retyped[root]}
        (breaking if paths else affecting).append(entry)
    if before.nodes:  # a first apply adds everything: nothing to compare with
        added = {n for n in after.nodes if n not in before.nodes}
        for root in _roots(after, added):
            affecting.append(_entry("add", after.nodes[root],
                                    after.paths_from(root, PATHS_SHOWN)))
    return {
        "version": SCHEMA_VERSION,
        "complete": before.complete and after.complete,
        "warnings": sorted(set(after.warnings)),
        "breaking": breaking,
        "affecting": affecting,
    }


def _label(node: Mapping[str, Any]) -> str:
    return Node.from_json(node).label


def entry_lines(entry: Mapping[str, Any]) -> list[str]:
    """``! removing stream orders.amount (extractors.orders) breaks: table raw.orders.amount ->
    ...`` (``! retyping model stg_orders.amount (transformers.dbt): DECIMAL(12, 2) -> INT
    breaks: ...``), one line per path; an entry with no path is one line saying so."""
    node, change = entry["node"], entry["change"]
    verb = {"remove": "removing", "retype": "retyping"}.get(change, "adding")
    head = f"{verb} {_label(node)} ({node['resource']})"
    if change == "retype":
        head += f": {entry.get('was')} -> {node.get('data_type')}"
    paths = entry.get("paths") or []
    if not paths:
        return [f"~ {head} affects nothing downstream"]
    mark, says = ("~", "affects") if change == "add" else ("!", "breaks")
    lines = [f"{mark} {head} {says}: {' -> '.join(_label(n) for n in path)}" for path in paths]
    if len(paths) >= PATHS_SHOWN:
        lines.append(f"  (only the first {PATHS_SHOWN} paths are listed)")
    return lines


def impact_lines(impact: Mapping[str, Any]) -> list[str]:
    """The plan's lineage section as plain lines (renderers add their markup); empty when the
    plan changes no lineage and the lineage is complete."""
    lines: list[str] = []
    for entry in [*impact.get("breaking", ()), *impact.get("affecting", ())]:
        lines.extend(entry_lines(entry))
    if not impact.get("complete", True):
        lines.append("lineage incomplete: what is listed may not be all a change touches")
        lines.extend(f"  {w}" for w in impact.get("warnings", ()))
    return lines


def breaks(impact: Mapping[str, Any]) -> bool:
    return bool(impact.get("breaking"))
