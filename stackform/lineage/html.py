"""``stackform lineage --format html``: one self-contained page (an inline SVG, no script, no
network) a CI job can keep as an artifact and a person opens in a browser.

Columns are laid out left to right by their longest distance from a node with nothing upstream
(streams, then loader tables, then dbt's sources, models and tests), one box per node, grouped
by block within a layer; the nodes asked about are drawn thick.
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter
from html import escape

from stackform.lineage.selection import Selection

WIDTH, HEIGHT, GAP_X, GAP_Y, PAD = 280, 34, 90, 12, 20
COLOURS = {"stream": "#e8f1fb", "table": "#eaf7ea", "source": "#fff6e0", "model": "#fdecec",
           "snapshot": "#fdecec", "seed": "#fff6e0", "test": "#f2f2f2"}


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


def render_html(sel: Selection, title: str = "stackform lineage") -> str:
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
            parts.append(f'<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" '
                         'stroke="#8a8a8a" stroke-width="1"/>')
    for node_id, (x, y) in sorted(where.items()):
        node = graph.nodes[node_id]
        asked = node_id in sel.start and sel.start != sel.shown
        fill = COLOURS.get(node.type, "#ffffff")
        parts.append(
            f'<g class="node" data-id="{escape(node_id)}"><title>{escape(node_id)}</title>'
            f'<rect x="{x}" y="{y}" width="{WIDTH}" height="{HEIGHT}" rx="5" fill="{fill}" '
            f'stroke="#333" stroke-width="{3 if asked else 1}"/>'
            f'<text x="{x + 8}" y="{y + 14}">{escape(node.label)}</text>'
            f'<text x="{x + 8}" y="{y + 28}" fill="#666">{escape(node.resource)}</text></g>')
    parts.append("</svg>")
    notes = "" if not graph.warnings else (
        f"<p><strong>{'Notes' if graph.complete else 'Lineage incomplete'}:</strong></p><ul>"
        + "".join(f"<li>{escape(w)}</li>" for w in graph.warnings) + "</ul>")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title></head>"
            f"<body style=\"margin:0;font-family:sans-serif\"><h3 style=\"margin:12px 20px\">"
            f"{escape(title)}</h3>{notes}{''.join(parts)}</body></html>\n")
