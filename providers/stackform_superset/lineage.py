"""A dashboard's lineage: each dataset's table and columns, the columns each chart uses, and the
dashboard that shows the charts (docs/lineage.md).

A dataset's nodes carry the warehouse relation it reads (``schema.table`` as this environment's
rewrite points it), which is how its columns find the nodes upstream that are that relation (a
dbt model's columns, a loader's table): the plan then names the charts a removed column breaks.
What a chart uses is read from its ``params`` the way Superset stores them: ``groupby``,
``columns``, ``all_columns``, ``x_axis``, ``series``, ``entity``, ``granularity_sqla``, adhoc
filters' ``subject``, metrics by column (an adhoc metric) or by name (a metric of the dataset,
whose SQL expression is read with sqlglot), and free SQL (``sqlExpression``) read with sqlglot.
A dataset defined by SQL (a virtual dataset) is not followed: its columns are listed without
their sources, and the fragment says so (incomplete, never silent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stackform.lineage.model import LineageFragment, LineageGraph, Node
from stackform_superset.bundle import Asset

DATASET, CHART, DASHBOARD = "dataset", "chart", "dashboard"

# params keys whose values name columns (a string, an adhoc column, or a list of them)
_COLUMN_KEYS = ("groupby", "columns", "all_columns", "x_axis", "series", "entity",
                "granularity_sqla", "order_by_cols", "groupbyColumns", "groupbyRows")
_METRIC_KEYS = ("metrics", "metric", "percent_metrics", "timeseries_limit_metric", "x", "y",
                "size", "secondary_metric")


def dashboard_lineage(address: str, objects: Iterable[Asset], upstream: LineageGraph
                      ) -> LineageFragment:
    """The fragment of one dashboard's closure, as this environment imports it."""
    assets = list(objects)
    nodes: dict[str, Node] = {}
    edges: set[tuple[str, str]] = set()
    warnings: list[str] = []
    by_relation: dict[str, list[Node]] = {}
    for node in upstream:
        if node.relation:
            by_relation.setdefault(node.relation, []).append(node)

    def add(node: Node, sources: Iterable[Node] = ()) -> Node:
        nodes[node.id] = node
        edges.update((s.id, node.id) for s in sources)
        return node

    datasets: dict[str, tuple[Node, dict[str, Node], dict[str, str]]] = {}
    for asset in (a for a in assets if a.kind == "dataset"):
        doc = asset.doc
        relation = f"{doc.get('schema') or ''}.{doc.get('table_name')}".strip(".").lower()
        table = add(Node(address, asset.name, None, DATASET, relation))
        found = by_relation.get(relation, [])
        columns: dict[str, Node] = {}
        for col in doc.get("columns") or []:
            name = str(col.get("column_name"))
            sources = [n for n in found if (n.column or "").lower() == name.lower()]
            columns[name.lower()] = add(Node(address, table.table, name, DATASET, relation),
                                        sources)
            edges.add((table.id, columns[name.lower()].id))
        edges.update((n.id, table.id) for n in found if n.column is None)
        if doc.get("sql"):
            warnings.append(f"dataset {asset.name} is defined by SQL: its columns' sources are "
                            "not followed")
        metrics = {str(m.get("metric_name")): str(m.get("expression") or "")
                   for m in doc.get("metrics") or []}
        datasets[asset.uuid] = (table, columns, metrics)

    dashboards = [a for a in assets if a.kind == DASHBOARD]
    for asset in (a for a in assets if a.kind == "chart"):
        # Charts and dashboards are named as Superset shows them, quoted: they are no tables.
        chart = add(Node(address, f'"{asset.name}"', None, CHART))
        for board in dashboards:
            edges.add((chart.id, add(Node(address, f'"{board.name}"', None, DASHBOARD)).id))
        dataset = datasets.get(str(asset.doc.get("dataset_uuid")))
        if dataset is None:
            continue
        table, columns, metrics = dataset
        try:
            used = _used_columns(asset.doc.get("params") or {}, metrics)
        except _Unreadable as exc:
            warnings.append(f"chart {asset.name}: cannot read the SQL {exc}: its columns are "
                            "taken as the whole dataset")
            used = set()
        sources = [columns[c] for c in sorted(used) if c in columns]
        edges.update((s.id, chart.id) for s in sources)
        if not sources:
            edges.add((table.id, chart.id))  # COUNT(*) and the like: the whole table
    return LineageFragment(tuple(nodes.values()), tuple(sorted(edges)), tuple(warnings),
                           complete=not warnings)


def _used_columns(params: Mapping[str, Any], metrics: Mapping[str, str]) -> set[str]:
    used: set[str] = set()
    for key in _COLUMN_KEYS:
        for value in _listed(params.get(key)):
            used |= _column_of(value)
    for key in _METRIC_KEYS:
        for value in _listed(params.get(key)):
            if isinstance(value, str):
                used |= _sql_columns(metrics.get(value, ""))
            else:
                used |= _column_of(value)
    for flt in params.get("adhoc_filters") or []:
        if isinstance(flt, Mapping):
            used |= _column_of(flt.get("subject")) | _sql_columns(flt.get("sqlExpression"))
    return used


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _column_of(value: Any) -> set[str]:
    """A column as params hold it: its name, or an adhoc column/metric (by column or by SQL)."""
    if isinstance(value, str):
        return {value.lower()} if value else set()
    if not isinstance(value, Mapping):
        return set()
    column = value.get("column")
    if isinstance(column, Mapping) and column.get("column_name"):
        return {str(column["column_name"]).lower()}
    return _sql_columns(value.get("sqlExpression"))


class _Unreadable(Exception):
    """An SQL expression of a chart or metric sqlglot cannot parse."""


def _sql_columns(expression: Any) -> set[str]:
    if not isinstance(expression, str) or not expression.strip():
        return set()
    import sqlglot
    from sqlglot import exp

    try:
        parsed = sqlglot.parse_one(expression)
    except sqlglot.errors.ParseError:
        raise _Unreadable(repr(expression[:80])) from None
    return {c.name.lower() for c in parsed.find_all(exp.Column)}
