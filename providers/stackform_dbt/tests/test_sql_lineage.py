"""Column lineage of a dbt manifest with sqlglot, on a manifest written by hand in dbt's shape
(the real ``dbt compile`` of the quickstart is in tests/e2e/test_lineage_quickstart.py)."""

from __future__ import annotations

from typing import Any

from stackform.lineage.model import LineageFragment, LineageGraph, Node
from stackform_dbt.sql_lineage import manifest_lineage

LOADER = "loaders.wh"


def landed() -> LineageGraph:
    table = Node(LOADER, "raw.orders", None, "table", "raw.orders")
    columns = [Node(LOADER, "raw.orders", c, "table", "raw.orders")
               for c in ("id", "customer", "amount")]
    return LineageGraph({LOADER: LineageFragment((table, *columns),
                                                 tuple((table.id, c.id) for c in columns))})


def model(name: str, sql: str | None, parents: list[str], **extra: Any) -> dict[str, Any]:
    node = {"resource_type": "model", "name": name, "database": "dev",
            "schema": "analytics", "alias": name, "depends_on": {"nodes": parents},
            "columns": {}, "package_name": "p", **extra}
    if sql is not None:
        node["compiled_code"] = sql
    return node


def manifest(*models: tuple[str, dict[str, Any]], tests: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    return {
        "metadata": {"project_name": "p", "adapter_type": "duckdb"},
        "sources": {"source.p.raw.orders": {
            "resource_type": "source", "source_name": "raw", "name": "orders",
            "database": "dev", "schema": "raw", "identifier": "orders", "columns": {}}},
        "nodes": {**{f"model.p.{n}": m for n, m in models}, **(tests or {})},
    }


STG = ("stg", model("stg", 'select id as order_id, customer, amount * 2 as amount2, * '
                    'from "dev"."raw"."orders"', ["source.p.raw.orders"]))
MART = ("mart", model("mart", 'select customer, sum(amount2) as revenue, count(*) as n '
                      'from "dev"."analytics"."stg" group by customer', ["model.p.stg"]))


def edges(fragment: LineageFragment) -> set[tuple[str, str]]:
    graph = LineageGraph({**landed().fragments, "transformers.dbt": fragment})
    return {(graph.nodes[a].label, graph.nodes[b].label) for a, b in graph.edges()
            if graph.nodes[a].column and graph.nodes[b].column}


def test_columns_are_traced_through_models_and_select_star() -> None:
    fragment = manifest_lineage("transformers.dbt", manifest(STG, MART), landed())
    assert fragment.complete and fragment.warnings == ()
    found = edges(fragment)
    assert ("table raw.orders.amount", "source raw.orders.amount") in found
    assert ("source raw.orders.id", "model stg.order_id") in found
    assert ("source raw.orders.amount", "model stg.amount2") in found
    assert ("source raw.orders.amount", "model stg.amount") in found   # from the *
    assert ("model stg.amount2", "model mart.revenue") in found
    assert not any(b == "model mart.n" for _a, b in found)     # count(*) reads no column


def test_nodes_name_the_relations_they_are() -> None:
    fragment = manifest_lineage("transformers.dbt", manifest(STG, MART), landed())
    relations = {n.label: n.relation for n in fragment.nodes}
    assert relations["source raw.orders.amount"] == "raw.orders"
    assert relations["model mart.revenue"] == "analytics.mart"


def test_a_data_test_hangs_off_the_column_it_tests() -> None:
    test = {"test.p.not_null_stg_order_id": {
        "resource_type": "test", "name": "not_null_stg_order_id", "column_name": "order_id",
        "attached_node": "model.p.stg", "depends_on": {"nodes": ["model.p.stg"]}}}
    fragment = manifest_lineage("transformers.dbt", manifest(STG, tests=test), landed())
    graph = LineageGraph({"transformers.dbt": fragment})
    assert [n.label for n in graph.downstream_of("transformers.dbt|stg|order_id")] == [
        "test not_null_stg_order_id"]


def test_a_model_sqlglot_cannot_read_is_named_and_makes_the_lineage_incomplete() -> None:
    broken = ("broken", model("broken", "select from from where (", ["source.p.raw.orders"],
                              columns={"x": {"name": "x"}}))
    fragment = manifest_lineage("transformers.dbt", manifest(STG, broken, MART), landed())
    assert not fragment.complete
    assert len(fragment.warnings) == 1
    assert fragment.warnings[0].startswith("model broken: sqlglot cannot read its compiled SQL "
                                           "(ParseError")
    labels = {n.label for n in fragment.nodes}
    assert "model broken.x" in labels            # its declared columns stay, without edges
    assert "model mart.revenue" in labels        # the others are still traced
    assert ("model stg.amount2", "model mart.revenue") in edges(fragment)


def test_a_model_without_compiled_sql_is_named() -> None:
    fragment = manifest_lineage("transformers.dbt",
                                manifest(("raw_only", model("raw_only", None, []))), landed())
    assert fragment.warnings == ("model raw_only: no compiled SQL in dbt's manifest; its "
                                 "columns' lineage is unknown",)


def test_column_types_come_from_the_warehouse_and_the_compiled_casts() -> None:
    table = Node(LOADER, "raw.orders", None, "table", "raw.orders")
    typed = [Node(LOADER, "raw.orders", c, "table", "raw.orders", data_type=t)
             for c, t in (("id", "BIGINT"), ("customer", "VARCHAR"), ("amount", "DOUBLE"))]
    upstream = LineageGraph({LOADER: LineageFragment((table, *typed),
                                                     tuple((table.id, c.id) for c in typed))})

    def types(cast: str) -> dict[str, str | None]:
        stg = ("stg", model("stg", f'select id, cast(amount as {cast}) as amount, customer '
                            'from "dev"."raw"."orders"', ["source.p.raw.orders"]))
        mart = ("mart", model("mart", 'select customer, sum(amount) as revenue from '
                              '"dev"."analytics"."stg" group by customer', ["model.p.stg"]))
        fragment = manifest_lineage("transformers.dbt", manifest(stg, mart), upstream)
        return {n.name: n.data_type for n in fragment.nodes if n.column}

    before, after = types("decimal(12, 2)"), types("integer")
    assert before["raw.orders.amount"] == "DOUBLE" and before["stg.id"] == "BIGINT"
    assert (before["stg.amount"], after["stg.amount"]) == ("DECIMAL(12, 2)", "INT")
    assert before["stg.customer"] == "TEXT"  # DuckDB's VARCHAR, as sqlglot writes it
    # Unknown upstream types stay unknown: no retype is ever made up.
    untyped = manifest_lineage("transformers.dbt", manifest(STG), landed())
    assert {n.name: n.data_type for n in untyped.nodes}["stg.amount2"] is None
