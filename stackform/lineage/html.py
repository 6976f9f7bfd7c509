"""``stackform lineage --format html`` and ``plan --out-lineage-html``: one self-contained page
(an inline SVG, no script, no network) a CI job can keep as an artifact and a person opens in a
browser.

Columns are laid out left to right by their longest distance from a node with nothing upstream
(streams, then loader tables, then dbt's sources, models and tests), one box per node, grouped
by block within a layer; the nodes asked about are drawn thick. A plan's page marks each node
(``data-mark``): what the plan removes, retypes or adds, and what that breaks or affects, with
a legend and the plan's own lines above the picture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from graphlib import CycleError, TopologicalSorter
from html import escape

from stackform.lineage.model import Node
from stackform.lineage.selection import Selection

WIDTH, HEIGHT, GAP_X, GAP_Y, PAD = 280, 34, 90, 12, 20
COLOURS = {"stream": "#e8f1fb", "table": "#eaf7ea", "source": "#fff6e0", "model": "#fdecec",
           "snapshot": "#fdecec", "seed": "#fff6e0", "test": "#f2f2f2"}
MARKS: dict[str, tuple[str, str, str, str]] = {
    # mark: (fill, stroke, stroke width, legend)
    "removed": ("#ffc9c9", "#c92a2a", "4", "removed by the plan"),
    "retyped": ("#ffc9c9", "#c92a2a", "4", "retyped by the plan"),
    "breaks": ("#ffe8cc", "#e8590c", "3", "breaks: reads what the plan removes or retypes"),
    "added": ("#d3f9d8", "#2b8a3e", "4", "added by the plan"),
    "affected": ("#d0ebff", "#1971c2", "2", "affected: reads what the plan adds"),
}


def _layers(sel: Selection) -> dict[str, int]:
    graph = sel.graph
    ups = {n: [u.id for u in graph.upstream_of(n) if u.id in sel.shown] for n in sel.shown}
    try:
        order = list(TopologicalSorter(ups).static_order())
    except CycleError:
        return {n: 0 for n in sel.shown}
    layer: dict[str, int] = {}
    for node in order:
        layer[node] = 1 + max((layer[u] for u in ups[node]), default=-1)
    return layer


def _node(node: Node, x: int, y: int, asked: bool, mark: str | None) -> str:
    fill, stroke, width = COLOURS.get(node.type, "#ffffff"), "#333", "3" if asked else "1"
    if mark in MARKS:
        fill, stroke, width, _legend = MARKS[mark]
    marked = f' data-mark="{mark}"' if mark else ""
    typed = f" {node.data_type}" if node.data_type else ""
    return (f'<g class="node" data-id="{escape(node.id)}"{marked}><title>{escape(node.id)}'
            f"{escape(typed)}</title>"
            f'<rect x="{x}" y="{y}" width="{WIDTH}" height="{HEIGHT}" rx="5" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"/>'
            f'<text x="{x + 8}" y="{y + 14}">{escape(node.label)}</text>'
            f'<text x="{x + 8}" y="{y + 28}" fill="#666">{escape(node.resource + typed)}</text>'
            "</g>")


def _svg(sel: Selection, marks: Mapping[str, str]) -> str:
    graph = sel.graph
    layers = _layers(sel)
    columns: dict[int, list[str]] = {}
    for shown in sorted(sel.shown, key=lambda n: (graph.nodes[n].resource, n)):
        columns.setdefault(layers[shown], []).append(shown)
    where: dict[str, tuple[int, int]] = {}
    for x, nodes in sorted(columns.items()):
        for y, placed in enumerate(nodes):
            where[placed] = (PAD + x * (WIDTH + GAP_X), PAD + y * (HEIGHT + GAP_Y))
    width = PAD * 2 + (max(columns, default=0) + 1) * (WIDTH + GAP_X)
    height = PAD * 2 + max((len(v) for v in columns.values()), default=1) * (HEIGHT + GAP_Y)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="12">']
    for a, b in graph.edges():
        if a in where and b in where:
            (x1, y1), (x2, y2) = where[a], where[b]
            x1, y1, y2 = x1 + WIDTH, y1 + HEIGHT // 2, y2 + HEIGHT // 2
            mid = (x1 + x2) // 2
            hot = marks.get(a) in MARKS and marks.get(b) in ("breaks", "affected")
            colour, weight = (MARKS[str(marks[b])][1], 2) if hot else ("#8a8a8a", 1)
            parts.append(f'<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" '
                         f'stroke="{colour}" stroke-width="{weight}"/>')
    asked = sel.start != sel.shown and not marks
    for node_id, (x, y) in sorted(where.items()):
        parts.append(_node(graph.nodes[node_id], x, y, asked and node_id in sel.start,
                           marks.get(node_id)))
    parts.append("</svg>")
    return "".join(parts)


def render_html(sel: Selection, title: str = "stackform lineage",
                marks: Mapping[str, str] | None = None, lines: Sequence[str] = ()) -> str:
    """The page; ``marks`` (node id -> a key of :data:`MARKS`) highlight a plan's changes,
    ``lines`` (the plan's lineage lines) go above the picture."""
    graph = sel.graph
    marks = marks or {}
    notes = "" if not graph.warnings else (
        f"<p><strong>{'Notes' if graph.complete else 'Lineage incomplete'}:</strong></p><ul>"
        + "".join(f"<li>{escape(w)}</li>" for w in graph.warnings) + "</ul>")
    used = sorted(set(marks.values()) & set(MARKS), key=list(MARKS).index)
    legend = "".join(
        f'<span class="legend" data-mark="{m}" style="display:inline-block;margin-right:14px;'
        f'padding:2px 8px;background:{MARKS[m][0]};border:2px solid {MARKS[m][1]}">'
        f"{escape(MARKS[m][3])}</span>" for m in used)
    said = "".join(f"<li><code>{escape(line)}</code></li>" for line in lines)
    head = (f'<div style="margin:0 20px">{legend}</div>' if legend else "") + (
        f'<ul class="plan" style="margin:8px 20px">{said}</ul>' if said else "")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title></head>"
            f"<body style=\"margin:0;font-family:sans-serif\"><h3 style=\"margin:12px 20px\">"
            f"{escape(title)}</h3>{head}{notes}{_svg(sel, marks)}</body></html>\n")
