"""``stackform plan --out-lineage-html FILE``: the lineage page of what is applied, with the
plan's changes and what they break highlighted (docs/lineage.md).

The page shows the part of the environment's lineage around the nodes the plan changes (what
they read and everything downstream of them), and every node the plan's impact names, even one
only the plan knows (an added column): the impact's paths are drawn as edges. Each node the
plan names carries ``data-mark``: ``removed``, ``retyped`` or ``added`` for a change, ``breaks``
or ``affected`` for what reads it. A plan that changes no lineage gets the whole graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stackform.lineage.html import render_html
from stackform.lineage.impact import impact_lines
from stackform.lineage.model import LineageFragment, LineageGraph, Node
from stackform.lineage.selection import Selection

if TYPE_CHECKING:
    from stackform.plan.model import Plan
    from stackform.session import Session

PLAN = "(plan)"
"""The fragment key of the nodes and edges only the plan's impact names."""
CHANGE_MARKS = {"remove": "removed", "retype": "retyped", "add": "added"}


def plan_marks(impact: Mapping[str, Any]) -> tuple[dict[str, str], LineageFragment]:
    """Each node the impact names and its mark; and a fragment of those nodes with the
    impact's paths as edges."""
    marks: dict[str, str] = {}
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    for key, downstream in (("breaking", "breaks"), ("affecting", "affected")):
        for entry in impact.get(key) or ():
            root = Node.from_json(entry["node"])
            nodes[root.id] = root
            marks[root.id] = CHANGE_MARKS.get(str(entry.get("change")), "removed")
            for path in entry.get("paths") or ():
                before = root.id
                for data in path:
                    node = Node.from_json(data)
                    nodes.setdefault(node.id, node)
                    marks.setdefault(node.id, downstream)
                    edges.append((before, node.id))
                    before = node.id
    return marks, LineageFragment(tuple(nodes.values()), tuple(edges))


def plan_page(applied: LineageGraph, impact: Mapping[str, Any], title: str) -> str:
    """The page for a plan whose ``impact`` is as :func:`~stackform.lineage.impact.compare`
    says, over the lineage ``applied``."""
    marks, named = plan_marks(impact)
    # The plan's fragment first: a node the applied lineage knows is drawn as it knows it.
    graph = LineageGraph({PLAN: named, **applied.fragments})
    changed = {n for n, m in marks.items() if m in CHANGE_MARKS.values()}
    if changed:
        shown = set(marks) | changed | graph.reach(changed) | graph.reach(changed, False)
        sel = Selection(graph, frozenset(changed), frozenset(shown))
    else:
        sel = Selection(graph, frozenset(graph.nodes), frozenset(graph.nodes))
    lines = impact_lines(impact) or ["this plan changes no lineage"]
    return render_html(sel, title, marks, lines)


def session_page(session: Session, plan: Plan) -> str:
    """The page for ``plan``, over the lineage of what is applied in its environment (as
    ``stackform lineage`` shows it)."""
    from stackform.lineage.query import environment_graph
    from stackform.provider import make_context
    from stackform.resource import fingerprinter

    ctx = make_context(session.stack, fingerprinter(plan.lineage), session.log)
    applied = environment_graph(ctx, session.registry.get, session.stack, session.read_state(),
                                session.dependencies)
    return plan_page(applied, plan.impact,
                     f"stackform plan: {session.stack.name} ({session.stack.env})")
