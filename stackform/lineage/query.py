"""``stackform lineage``: the environment's graph, the part of it around a block, a table or a
column, and that part as text, JSON, mermaid or DOT."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from stackform.config.model import ResolvedStack
from stackform.lineage.flow import data_upstream
from stackform.lineage.model import LineageGraph, Node
from stackform.lineage.planned import before_and_after
from stackform.lineage.selection import Selection, select
from stackform.provider import Context
from stackform.state.model import State

__all__ = ["FORMATS", "RENDERERS", "Selection", "environment_graph", "select"]

FORMATS = ("text", "json", "mermaid", "dot", "html")


def environment_graph(ctx: Context, provider_of: Callable[[str], object],
                      stack: ResolvedStack, state: State | None,
                      dependencies: Mapping[str, tuple[str, ...]]) -> LineageGraph:
    """The lineage of what is applied: recorded fragments, and any whose upstream changed
    since worked out again (as a plan with no change would)."""
    recorded = state.resources if state else {}
    applied = {a: r for a, r in stack.resources.items() if a in recorded}
    upstream, _problem = data_upstream(stack, dependencies)
    _before, after = before_and_after(ctx, provider_of, applied, recorded, recorded, (),
                                      upstream)
    return after.graph


def _where(node: Node) -> str:
    return f"{node.label} ({node.resource})"


def render_text(sel: Selection) -> str:
    graph = sel.graph
    edges = [(a, b) for a, b in graph.edges() if a in sel.shown and b in sel.shown]
    lines = [f"{len(sel.shown)} node{'s' if len(sel.shown) != 1 else ''}, "
             f"{len(edges)} edge{'s' if len(edges) != 1 else ''}"]
    if sel.start != sel.shown:
        lines.append("asked about: " + ", ".join(graph.nodes[n].label for n in sorted(sel.start)))
    for a, b in edges:
        lines.append(f"  {_where(graph.nodes[a])} -> {_where(graph.nodes[b])}")
    alone = sorted(sel.shown - {n for e in edges for n in e})
    lines.extend(f"  {_where(graph.nodes[n])}" for n in alone)
    if graph.warnings:  # a complete graph's notes: guesses a run corrected, say
        lines.append("lineage incomplete:" if not graph.complete else "notes:")
        lines.extend(f"  {w}" for w in graph.warnings)
    return "\n".join(lines)


def render_json(sel: Selection) -> str:
    doc = sel.graph.to_json(sel.shown)
    doc["selected"] = sorted(sel.start)
    return json.dumps(doc, indent=2)


def _ids(sel: Selection) -> dict[str, str]:
    return {n: f"n{i}" for i, n in enumerate(sorted(sel.shown))}


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")


def render_mermaid(sel: Selection) -> str:
    ids = _ids(sel)
    lines = ["flowchart LR"]
    for node_id, short in ids.items():
        node = sel.graph.nodes[node_id]
        lines.append(f'  {short}["{_quoted(node.label)}<br/>{_quoted(node.resource)}"]')
    lines.extend(f"  {ids[a]} --> {ids[b]}" for a, b in sel.graph.edges()
                 if a in ids and b in ids)
    lines.extend(f"  style {ids[n]} stroke-width:3px" for n in sorted(sel.start)
                 if sel.start != sel.shown)
    return "\n".join(lines)


def render_dot(sel: Selection) -> str:
    ids = _ids(sel)
    lines = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box];"]
    for node_id, short in ids.items():
        node = sel.graph.nodes[node_id]
        bold = ", penwidth=3" if node_id in sel.start and sel.start != sel.shown else ""
        lines.append(f'  {short} [label="{_quoted(node.label)}\\n{_quoted(node.resource)}"'
                     f"{bold}];")
    lines.extend(f"  {ids[a]} -> {ids[b]};" for a, b in sel.graph.edges()
                 if a in ids and b in ids)
    lines.append("}")
    return "\n".join(lines)


def render_html(sel: Selection) -> str:
    from stackform.lineage.html import render_html as page

    return page(sel)


RENDERERS: dict[str, Callable[[Selection], str]] = {
    "text": render_text, "json": render_json, "mermaid": render_mermaid, "dot": render_dot,
    "html": render_html}
