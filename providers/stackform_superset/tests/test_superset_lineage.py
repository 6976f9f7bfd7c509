"""A dashboard's lineage on the test asset folder: datasets find the dbt model they read by its
relation, charts the columns they use, and the plan's impact names the chart a removed model
column breaks. Plain data: no server, no dbt."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from superset_support import ASSETS, DASHBOARD_UUID

from stackform.lineage.impact import compare, impact_lines
from stackform.lineage.model import LineageFragment, LineageGraph, Node
from stackform_superset.bundle import closure, read_assets
from stackform_superset.lineage import dashboard_lineage

DBT = "transformers.dbt"


def _dbt(columns: list[str]) -> LineageFragment:
    """A dbt model ``revenue`` in schema ``analytics`` (the folder's dataset reads it)."""
    table = Node(DBT, "revenue", None, "model", "analytics.revenue")
    cols = [Node(DBT, "revenue", c, "model", "analytics.revenue") for c in columns]
    return LineageFragment((table, *cols), tuple((table.id, c.id) for c in cols))


def _dashboard(folder: Path, upstream: LineageFragment) -> LineageFragment:
    assets = read_assets(folder)
    objects = closure(assets, assets[DASHBOARD_UUID])
    return dashboard_lineage("dashboards.sales", objects, LineageGraph({DBT: upstream}))


def test_charts_hang_off_the_model_columns_they_use() -> None:
    dbt = _dbt(["amount", "customer"])
    graph = LineageGraph({DBT: dbt, "dashboards.sales": _dashboard(ASSETS, dbt)})
    amount = f"{DBT}|revenue|amount"
    labels = {n.label for n in graph.nodes.values() if n.id in graph.reach([amount])}
    assert labels == {"dataset revenue.amount", 'chart "Revenue by customer"',
                      'dashboard "Sales"'}
    # "Row count" is COUNT(*): it reads the whole dataset, not a column
    table = "dashboards.sales|revenue|"
    assert 'chart "Row count"' in {n.label for n in graph.downstream_of(table)}
    assert graph.complete


def test_removing_a_model_column_names_the_chart_and_dashboard_it_breaks() -> None:
    before_dbt, after_dbt = _dbt(["amount", "customer"]), _dbt(["customer"])
    before = LineageGraph({DBT: before_dbt, "dashboards.sales": _dashboard(ASSETS, before_dbt)})
    after = LineageGraph({DBT: after_dbt, "dashboards.sales": _dashboard(ASSETS, after_dbt)})
    lines = impact_lines(compare(before, after))
    assert ('! removing model revenue.amount (transformers.dbt) breaks: dataset revenue.amount'
            ' -> chart "Revenue by customer" -> dashboard "Sales"') in lines, lines


def test_sql_that_cannot_be_read_makes_the_lineage_incomplete_never_silent(
        tmp_path: Path) -> None:
    folder = tmp_path / "sales"
    shutil.copytree(ASSETS, folder)
    chart = folder / "charts" / "revenue_by_customer.yaml"
    doc = yaml.safe_load(chart.read_text())
    doc["params"]["adhoc_filters"] = [{"expressionType": "SQL",
                                       "sqlExpression": "amount >>> ((("}]
    chart.write_text(yaml.safe_dump(doc))
    fragment = _dashboard(folder, _dbt(["amount", "customer"]))
    assert not fragment.complete
    assert any("chart Revenue by customer: cannot read the SQL" in w for w in fragment.warnings)
