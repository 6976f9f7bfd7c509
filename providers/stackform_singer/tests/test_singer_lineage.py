"""Singer lineage on a hand-written catalog: the selected streams and properties of an
extractor, and the tables and columns a loader lands them in (the real quickstart is in
tests/e2e/test_lineage_quickstart.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from catalog_support import mysql_catalog
from target_stackform_duckdb.sql import snake as target_snake

from stackform.lineage.model import LineageGraph
from stackform.plugins.kit import plugin_dir
from stackform.provider import Context, ProvidesLineage
from stackform.resource import Resource, fingerprinter
from stackform_singer import ExtractorProvider, LoaderProvider
from stackform_singer.config import ExtractorConfig, LoaderConfig
from stackform_singer.lineage import snake


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
