"""Loader columns confirmed against PostgreSQL's own catalog after a run, for real: stackform's
JSONL tap into meltanolabs-target-postgres, which lands a stream named ``<schema>-<table>`` as
``<table>`` (``shop-orders`` as ``orders``) where stackform's guess keeps the stream's name.
Before the run the lineage shows the guess; after it, the warehouse's names and types, and a
note for each guess it corrected.

The landing schema is the test's own and is dropped at the end.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomlkit
from e2e_support import POSTGRES_PASSWORD, copy_quickstart, pg_rows, postgres

pytestmark = pytest.mark.slow

LOADER = {"pip_url": "meltanolabs-target-postgres==0.8.1", "executable": "target-postgres",
          "config": {"host": "127.0.0.1", "port": 5432, "user": "stackform",
                     "password": "${secret.postgres_password}", "database": "stackform_dw",
                     "load_method": "upsert", "add_record_metadata": True}}


@pytest.fixture
def schema(databases: None) -> Iterator[str]:
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        with postgres() as con:
            con.execute(f'drop schema if exists "{name}" cascade')


def test_a_run_confirms_the_loader_columns_against_postgresql(tmp_path: Path, stackform_for,
                                                              schema: str) -> None:
    stack = copy_quickstart(tmp_path / "stack")
    path = stack / "stack.toml"
    doc = tomlkit.parse(path.read_text())
    doc["extractors"]["orders"]["select"] = ["shop-orders.*"]
    doc["extractors"]["orders"]["config"]["stream_name"] = "shop-orders"
    doc["loaders"]["warehouse"] = {**LOADER, "config": {**LOADER["config"],
                                                        "default_target_schema": schema}}
    path.write_text(tomlkit.dumps(doc))
    (stack / "data" / "orders-01.jsonl").write_text("".join(
        json.dumps({"id": i, "customerName": f"c{i % 3}", "amount": i * 1.5}) + "\n"
        for i in range(1, 11)))
    sf = stackform_for(stack, {"STACKFORM_SECRET_POSTGRES_PASSWORD": POSTGRES_PASSWORD})
    sf.apply()
    guessed = sf.ok("lineage", "shop-orders.customerName", "--downstream").stdout
    assert f"table {schema}.shop-orders.customerName (loaders.warehouse)" in guessed, guessed

    run = sf.ok("run", "daily")
    assert "lineage not confirmed" not in run.stderr, run
    assert pg_rows(f'select count(*) from "{schema}".orders') == [(10,)]
    shown = sf.ok("lineage", "shop-orders.customerName", "--downstream").stdout
    assert (f"stream shop-orders.customerName (extractors.orders) -> table "
            f"{schema}.orders.customerName (loaders.warehouse)") in shown, shown
    assert (f"notes:\n  loaders.warehouse: {schema}.shop-orders: the warehouse names the table "
            "'orders', not as guessed") in shown, shown
    graph = json.loads(sf.ok("lineage", "--format", "json").stdout)
    types = {n["id"]: n["data_type"] for n in graph["nodes"]}
    table = f"loaders.warehouse|{schema}.orders|"
    assert types[table + "customerName"] == "text", types
    assert types[table + "id"] == "bigint", types
    assert types[table + "amount"] == "numeric", types
    # Columns the target adds that no property feeds are nodes too.
    assert types[table + "_sdc_batched_at"] == "timestamp without time zone", types
    # The corrected lineage is what the plan compares with: nothing breaks.
    plan = sf("plan", "--fail-on-breaking")
    assert plan.code == 0 and "No changes." in plan.stdout, plan
    for found in stack.rglob("*"):
        if found.is_file():
            assert POSTGRES_PASSWORD.encode() not in found.read_bytes(), found
