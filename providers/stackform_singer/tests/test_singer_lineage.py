"""Singer lineage on a hand-written catalog: the selected streams and properties of an
extractor, and the tables and columns a loader lands them in (the real quickstart is in
tests/e2e/test_lineage_quickstart.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from catalog_support import mysql_catalog
from target_stackform_duckdb.sql import snake as target_snake

from stackform.config.model import Step
from stackform.errors import StackformError
from stackform.lineage.model import LineageGraph
from stackform.plugins.kit import plugin_dir
from stackform.provider import (
    Context,
    RunContext,
    RunStep,
)
from stackform.provider_lineage import ProvidesLineage
from stackform.resource import Resource, ResourceState, fingerprinter
from stackform_singer import ExtractorProvider, LoaderProvider
from stackform_singer.config import ExtractorConfig, LoaderConfig
from stackform_singer.lineage import snake
from stackform_singer.warehouse_columns import FILE, confirmed, keep, read_columns


def ctx_for(tmp_path: Path) -> Context:
    return Context(env="dev", stack_name="s", stack_dir=tmp_path, work_dir=tmp_path / "work",
                   fingerprint=fingerprinter("lineage"))


def extractor(**config: Any) -> Resource:
    cfg = ExtractorConfig.model_validate({"pip_url": "tap-mysql", **config})
    return Resource("extractors.shop", "extractors", "shop", cfg, cfg.model_dump(mode="json"))


def loader(pip_url: str, **config: Any) -> Resource:
    cfg = LoaderConfig.model_validate({"pip_url": pip_url, "config": config})
    return Resource("loaders.wh", "loaders", "wh", cfg, cfg.model_dump(mode="json"))


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    ctx = ctx_for(tmp_path)
    folder = plugin_dir(ctx, "extractors.shop")
    folder.mkdir(parents=True)
    (folder / "catalog.discovered.json").write_text(json.dumps(mysql_catalog()))
    return ctx


def test_both_providers_have_the_capability() -> None:
    assert isinstance(ExtractorProvider(), ProvidesLineage)
    assert isinstance(LoaderProvider(), ProvidesLineage)


def test_extractor_lineage_is_the_selection_as_declared_now(ctx: Context) -> None:
    resource = extractor(select=["shop-orders.*", "!shop-orders.total"])
    fragment = ExtractorProvider().lineage(ctx, resource, {}, LineageGraph({}))
    assert fragment.complete
    assert [n.name for n in fragment.nodes] == [
        "shop-orders", "shop-orders.customer_id", "shop-orders.customer_name",
        "shop-orders.id", "shop-orders.updated_at"]
    assert {n.type for n in fragment.nodes} == {"stream"}


def test_extractor_without_a_catalog_says_its_lineage_is_not_known(tmp_path: Path) -> None:
    fragment = ExtractorProvider().lineage(ctx_for(tmp_path), extractor(select=["*.*"]), {},
                                           LineageGraph({}))
    assert not fragment.complete and not fragment.nodes
    assert fragment.warnings == ("the catalog is discovered at apply: its streams are not "
                                 "known yet",)


def test_the_duckdb_loader_lands_streams_snake_cased_in_its_schema(ctx: Context) -> None:
    source = ExtractorProvider().lineage(ctx, extractor(select=["shop-orders.*"]), {},
                                         LineageGraph({}))
    upstream = LineageGraph({"extractors.shop": source})
    fragment = LoaderProvider().lineage(
        ctx, loader("stackform:target-duckdb", default_target_schema="raw",
                    add_record_metadata=True), {}, upstream)
    graph = LineageGraph({"extractors.shop": source, "loaders.wh": fragment})
    columns = sorted(n.name for n in fragment.nodes if n.column)
    assert columns == [f"raw.shop_orders.{c}" for c in (
        "_sdc_deleted_at", "_sdc_extracted_at", "_sdc_received_at", "customer_id",
        "customer_name", "id", "total", "updated_at")]
    fed = graph.downstream_of("extractors.shop|shop-orders|total")
    assert [n.label for n in fed] == ["table raw.shop_orders.total"]
    assert {n.relation for n in fragment.nodes} == {"raw.shop_orders"}


def test_another_loader_keeps_the_names(ctx: Context) -> None:
    source = ExtractorProvider().lineage(ctx, extractor(select=["shop-orders.id"]), {},
                                         LineageGraph({}))
    fragment = LoaderProvider().lineage(ctx, loader("target-postgres"),
                                        {}, LineageGraph({"extractors.shop": source}))
    assert [n.name for n in fragment.nodes] == ["shop-orders", "shop-orders.id"]


@pytest.mark.parametrize("name", ["userId", "Order Lines", "HTTPServer", "1st", "a-b.c", "__",
                                  "already_snake", "XMLHttpRequest2Go"])
def test_loader_names_match_the_duckdb_target_s_own(name: str) -> None:
    assert snake(name) == target_snake(name)


def test_extractor_nodes_carry_the_catalog_types(ctx: Context) -> None:
    resource = extractor(select=["shop-orders.*"])
    fragment = ExtractorProvider().lineage(ctx, resource, {}, LineageGraph({}))
    types = {n.name: n.data_type for n in fragment.nodes}
    assert types["shop-orders.total"] == "number"
    assert types["shop-orders.updated_at"] == "string(date-time)"
    assert types["shop-orders"] is None  # a stream is no column


def _landed(ctx: Context, schema: str, tables: dict[str, list[list[str]]]) -> None:
    path = plugin_dir(ctx, "loaders.wh") / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema": schema, "tables": tables}))


def test_a_run_s_warehouse_catalog_replaces_the_guess_and_notes_each_correction(
        ctx: Context) -> None:
    source = ExtractorProvider().lineage(ctx, extractor(select=["shop-orders.*"]), {},
                                         LineageGraph({}))
    upstream = LineageGraph({"extractors.shop": source})
    wh = loader("target-postgres", default_target_schema="landing")
    assert LoaderProvider().lineage_confirmed(ctx, wh) == ""
    # What a singer-sdk target does with the names: snake-cased, where the guess keeps them.
    _landed(ctx, "landing", {"shop_orders": [
        ["id", "bigint"], ["customer_id", "bigint"], ["customer_name", "character varying"],
        ["total", "numeric"], ["_sdc_received_at", "timestamp with time zone"]]})
    token = LoaderProvider().lineage_confirmed(ctx, wh)
    assert len(token) == 16
    fragment = LoaderProvider().lineage(ctx, wh, {}, upstream)
    types = {n.name: n.data_type for n in fragment.nodes}
    assert types == {"landing.shop_orders": None, "landing.shop_orders.id": "bigint",
                     "landing.shop_orders.customer_id": "bigint",
                     "landing.shop_orders.customer_name": "character varying",
                     "landing.shop_orders.total": "numeric",
                     "landing.shop_orders._sdc_received_at": "timestamp with time zone",
                     "landing.shop_orders.updated_at": None}
    graph = LineageGraph({"extractors.shop": source, "loaders.wh": fragment})
    assert [n.name for n in graph.downstream_of("extractors.shop|shop-orders|total")] == [
        "landing.shop_orders.total"]
    assert fragment.complete and fragment.warnings == (
        "landing.shop-orders: the warehouse names the table 'shop_orders', not as guessed",
        "landing.shop_orders.updated_at: not in the warehouse after the last run (named as "
        "guessed)")
    # Read from another schema than the loader writes to now: the guess stands.
    moved = loader("target-postgres", default_target_schema="elsewhere")
    assert not LoaderProvider().lineage(ctx, moved, {}, upstream).warnings


def test_the_warehouse_catalog_is_read_from_duckdb(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw; create table raw.orders (id bigint, amount double)")
    found = read_columns(sys.executable, None, {"path": str(path), "schema": "raw"})
    assert found == {"orders": [["id", "BIGINT"], ["amount", "DOUBLE"]]}
    assert read_columns(sys.executable, None, {"path": str(tmp_path / "none.duckdb"),
                                               "schema": "raw"}) == {}


def test_a_warehouse_that_does_not_answer_is_a_clear_error(tmp_path: Path) -> None:
    params = {"host": "127.0.0.1", "port": 1, "user": "u", "password": "pw-9931",
              "database": "d", "schema": "raw"}
    with pytest.raises(StackformError) as failed:
        read_columns(sys.executable, None, params)
    assert failed.value.reason.startswith("the warehouse's catalog could not be read: ")
    assert "pw-9931" not in str(failed.value)


def test_a_run_whose_count_read_the_columns_is_not_read_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's last count reads the columns (pipe.py); the confirmation after the run then
    starts no process, and the lineage's digest does not depend on which run kept them."""
    import duckdb

    ctx = ctx_for(tmp_path)
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema raw; create table raw.orders (id bigint)")
    wh = loader("target-duckdb", path=str(db), default_target_schema="raw")
    step = RunStep(Step("wh", "loaders.wh"), wh, ResourceState("loaders.wh", "loaders", {}, {}),
                   LoaderProvider())
    kept = {"orders": [["id", "BIGINT"], ["kept", "VARCHAR"]]}
    keep(ctx, wh, "raw", kept, "run-1")
    first = LoaderProvider().lineage_confirmed(ctx, wh)

    def run(run_id: str) -> RunContext:
        return RunContext(ctx=ctx, run_id=run_id, pipeline="p",
                          bookmarks=None, log=lambda _m: None)  # type: ignore[arg-type]

    LoaderProvider().confirm_lineage(run("run-1"), step)  # the same run: nothing is read
    assert confirmed(ctx, wh) == {"schema": "raw", "tables": kept, "run": "run-1"}
    keep(ctx, wh, "raw", kept, "run-2")
    assert LoaderProvider().lineage_confirmed(ctx, wh) == first
    # Another run (its count could not read them): the warehouse is asked. Installing the
    # loader would need the network, so its venv is this interpreter.
    import stackform_singer.warehouse_columns as wc

    class Here:
        python = Path(sys.executable)

        def environ(self) -> dict[str, str]:
            return {"PATH": "/usr/bin:/bin"}

    monkeypatch.setattr(wc, "install", lambda _ctx, _res: Here())
    LoaderProvider().confirm_lineage(run("run-3"), step)
    assert confirmed(ctx, wh) == {"schema": "raw", "tables": {"orders": [["id", "BIGINT"]]},
                                  "run": "run-3"}
    assert LoaderProvider().lineage_confirmed(ctx, wh) != first
