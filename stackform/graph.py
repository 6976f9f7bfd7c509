"""The dependency graph of a resolved stack, its checks, and its renderings.

Nodes are resource addresses and pipelines (``pipelines.daily``). An edge ``u -> v`` means *v
depends on u*, so a topological order is an apply order. Edges come from explicit
``depends_on``, from pipeline steps (a pipeline depends on the resources it runs) and from
the pipelines a provider says a resource depends on (an orchestrator, the pipelines it
schedules: :class:`stackform.provider.DependsOnPipelines`, asked when the stack is resolved).
``stack_edges`` is the one place that knows them; networkx is imported only when a full graph is
built for analysis or rendering.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stackform.config.model import ResolvedStack
from stackform.config.schema import DEPENDS_ON
from stackform.errors import ConfigError, GraphError

if TYPE_CHECKING:
    import networkx as nx

    from stackform.config.loader import StackFile

Edge = tuple[str, str, str]
"""``(dependency, dependent, why)``."""


def stack_edges(stack: ResolvedStack) -> list[Edge]:
    """Every dependency edge the stack declares or implies."""
    edges: list[Edge] = []
    for pipeline in stack.pipelines.values():
        edges.extend((step.address, pipeline.address, "step") for step in pipeline.steps)
        edges.extend((dep, pipeline.address, "depends_on") for dep in pipeline.depends_on)
    for address, resource in stack.resources.items():
        edges.extend((dep, address, "depends_on") for dep in resource.depends_on)
    for address, names in stack.pipeline_dependencies.items():
        edges.extend((stack.pipelines[n].address, address, "pipeline") for n in names)
    for address, deps in stack.block_dependencies.items():
        edges.extend((dep, address, "implied") for dep in deps)
    return edges


def build_graph(stack: ResolvedStack) -> nx.DiGraph:
    """The full graph (resources and pipelines) for analysis and rendering.

    Raises :class:`GraphError` on a cycle.
    """
    import networkx as nx

    graph = nx.DiGraph()
    for address, resource in stack.resources.items():
        graph.add_node(address, kind=resource.kind, pipeline=False)
    for pipeline in stack.pipelines.values():
        graph.add_node(pipeline.address, kind="pipelines", pipeline=True,
                       schedule=pipeline.schedule)
    for dependency, dependent, why in stack_edges(stack):
        graph.add_edge(dependency, dependent, why=why)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return graph
    raise _cycle_error([u for u, _v in cycle])


def _cycle_error(nodes: list[str]) -> GraphError:
    path = [*nodes, nodes[0]]
    return GraphError(
        "dependency cycle: " + " -> ".join(path),
        hint="remove one of these dependencies (depends_on, a pipeline step, or a schedule)",
        cycle=tuple(nodes),
    )


def resource_dependencies(stack: ResolvedStack) -> dict[str, tuple[str, ...]]:
    """For each resource, the resources it directly depends on, seeing through pipelines.

    This is what plan and apply need on every run, so it uses the standard library's graphlib
    rather than importing networkx (half a second of start-up) just to order a few edges.
    Raises :class:`GraphError` on a cycle.
    """
    from graphlib import CycleError, TopologicalSorter

    preds: dict[str, set[str]] = {a: set() for a in stack.resources}
    preds.update({p.address: set() for p in stack.pipelines.values()})
    for dependency, dependent, _why in stack_edges(stack):
        preds.setdefault(dependent, set()).add(dependency)
    try:
        if any(preds.values()):  # a graph without edges has no cycle to look for
            TopologicalSorter(preds).prepare()
    except CycleError as exc:
        cycle: list[str] = list(exc.args[1])[:-1]
        # graphlib lists the cycle from the dependent side; print it as "a needs b".
        raise _cycle_error(list(reversed(cycle))) from None
    pipelines = {p.address for p in stack.pipelines.values()}
    deps: dict[str, tuple[str, ...]] = {}
    for node in stack.resources:
        found: set[str] = set()
        todo = list(preds.get(node, ()))
        seen: set[str] = set()
        while todo:
            pred = todo.pop()
            if pred in seen:
                continue
            seen.add(pred)
            if pred in pipelines:
                todo.extend(preds.get(pred, ()))
            else:
                found.add(pred)
        deps[node] = tuple(sorted(found))
    return deps


def checked_dependencies(stack_file: StackFile, stack: ResolvedStack
                         ) -> dict[str, tuple[str, ...]]:
    """:func:`resource_dependencies`, a cycle raised as a ConfigError located in the file."""
    try:
        return resource_dependencies(stack)
    except GraphError as exc:
        raise located_cycle(stack_file, stack.environment.name, exc) from None


def located_cycle(stack_file: StackFile, env: str, error: GraphError) -> ConfigError:
    """A cycle as a diagnostic at a ``depends_on`` or pipeline ``steps`` that forms it.

    An environment's override of ``depends_on`` comes first: a cycle that exists only in that
    environment is made there. Without any (a cycle through a schedule, say), it points at the
    first block of the cycle.
    """
    written: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for address in error.cycle:
        kind, _, name = address.partition(".")
        override = ("environments", env, "override", kind, name, DEPENDS_ON)
        if _written(stack_file.data, override):
            written.insert(0, ((kind, name, DEPENDS_ON), override))
            break
        for key in (DEPENDS_ON, "steps"):
            if _written(stack_file.data, (kind, name, key)):
                written.append(((kind, name, key), (kind, name, key)))
    if written:
        path, source = written[0]
    else:
        kind, _, name = error.cycle[0].partition(".") if error.cycle else ("", "", "")
        path = source = (kind, name) if name else ()
    return ConfigError([stack_file.diagnostic(error.reason, path, source=source,
                                              hint=error.hint)])


def _written(data: Any, path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return False
        data = data[key]
    return True


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
