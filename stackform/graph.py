"""The dependency graph of a resolved stack, its checks, and its renderings.

Nodes are resource addresses and pipelines (``pipelines.daily``). An edge ``u -> v`` means *v
depends on u*, so a topological order is an apply order. Edges come from explicit
``depends_on``, from pipeline steps (a pipeline depends on the resources it runs) and from
orchestrators to the pipelines they schedule. networkx is imported here only, when a graph is
built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from stackform.config.model import ResolvedStack
from stackform.errors import GraphError

if TYPE_CHECKING:
    import networkx as nx

ORCHESTRATOR_KIND = "orchestrators"


def build_graph(stack: ResolvedStack) -> nx.DiGraph:
    """The full graph (resources and pipelines); raises :class:`GraphError` on a cycle."""
    import networkx as nx

    graph = nx.DiGraph()
    for address, resource in stack.resources.items():
        graph.add_node(address, kind=resource.kind, pipeline=False)
    for pipeline in stack.pipelines.values():
        graph.add_node(pipeline.address, kind="pipelines", pipeline=True,
                       schedule=pipeline.schedule)
        for step in pipeline.steps:
            graph.add_edge(step.address, pipeline.address, why="step")
        for dep in pipeline.depends_on:
            graph.add_edge(dep, pipeline.address, why="depends_on")
    for address, resource in stack.resources.items():
        for dep in resource.depends_on:
            graph.add_edge(dep, address, why="depends_on")
    scheduled = [p.address for p in stack.pipelines.values() if p.schedule]
    for address, resource in stack.resources.items():
        if resource.kind == ORCHESTRATOR_KIND:
            for pipeline_address in scheduled:
                graph.add_edge(pipeline_address, address, why="schedules")
    check_acyclic(graph)
    return graph


def check_acyclic(graph: nx.DiGraph) -> None:
    import networkx as nx

    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    path = [u for u, _v in cycle] + [cycle[0][0]]
    raise GraphError(
        "dependency cycle: " + " -> ".join(path),
        hint="remove one of these dependencies (depends_on, a pipeline step, or a schedule)",
    )


def resource_dependencies(graph: nx.DiGraph) -> dict[str, tuple[str, ...]]:
    """For each resource, the resources it directly depends on, seeing through pipelines."""
    pipelines = {n for n, data in graph.nodes(data=True) if data.get("pipeline")}
    deps: dict[str, tuple[str, ...]] = {}
    for node in graph.nodes:
        if node in pipelines:
            continue
        found: set[str] = set()
        stack = list(graph.predecessors(node))
        seen: set[str] = set()
        while stack:
            pred = stack.pop()
            if pred in seen:
                continue
            seen.add(pred)
            if pred in pipelines:
                stack.extend(graph.predecessors(pred))
            else:
                found.add(pred)
        deps[node] = tuple(sorted(found))
    return deps


def render_text(graph: nx.DiGraph) -> str:
    """One line per node in apply order, with what it depends on."""
    import networkx as nx

    lines = []
    for node in nx.lexicographical_topological_sort(graph):
        preds = sorted(graph.predecessors(node))
        lines.append(f"{node}" + (f"  <- {', '.join(preds)}" if preds else ""))
    return "\n".join(lines)


def _quoted(node: str) -> str:
    return '"' + node.replace('"', '\\"') + '"'


def render_dot(graph: nx.DiGraph, name: str = "stack") -> str:
    lines = [f"digraph {_quoted(name)} {{", "  rankdir=LR;"]
    for node, data in sorted(graph.nodes(data=True)):
        shape = "ellipse" if data.get("pipeline") else "box"
        lines.append(f"  {_quoted(node)} [shape={shape}];")
    for u, v in sorted(graph.edges):
        lines.append(f"  {_quoted(u)} -> {_quoted(v)};")
    lines.append("}")
    return "\n".join(lines)


def render_mermaid(graph: nx.DiGraph) -> str:
    ids: Mapping[str, str] = {n: f"n{i}" for i, n in enumerate(sorted(graph.nodes))}
    lines = ["flowchart LR"]
    for node, data in sorted(graph.nodes(data=True)):
        label = node.replace('"', "'")
        lines.append(f'  {ids[node]}(["{label}"])' if data.get("pipeline")
                     else f'  {ids[node]}["{label}"]')
    for u, v in sorted(graph.edges):
        lines.append(f"  {ids[u]} --> {ids[v]}")
    return "\n".join(lines)
