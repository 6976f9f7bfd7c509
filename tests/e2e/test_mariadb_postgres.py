"""examples/postgres for real: pipelinewise-tap-mysql (INCREMENTAL on updated_at) reading the
MariaDB on this machine, piped into meltanolabs-target-postgres (upsert) on its PostgreSQL.

Each test uses a fresh source table and target schema, removed at the end. The servers and
accounts come from scripts/ci-services.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from e2e_support import (
    MYSQL_PASSWORD,
    POSTGRES_PASSWORD,
    copy_postgres_example,
    mysql,
    pg_rows,
    source_and_schema,
    step,
)

pytestmark = pytest.mark.slow

FIRST = 5000
MORE = 300
BASE = datetime(2026, 11, 1, 8, 0, 0)


def insert_orders(table: str, ids: range) -> None:
    # One distinct updated_at per row, increasing with the id.
    rows = [(i, Decimal(i % 1000) + Decimal("0.25"), BASE + timedelta(seconds=i)) for i in ids]
    with mysql() as con, con.cursor() as cur:
        cur.executemany(f"insert into `{table}` (id, amount, updated_at) values (%s, %s, %s)",
                        rows)


@pytest.fixture
def source_and_target(databases: None) -> Iterator[tuple[str, str]]:
    with source_and_schema("orders", "id int primary key, amount decimal(10,2) not null, "
                           "updated_at datetime(6) not null, key (updated_at)") as names:
        yield names


def test_mariadb_to_postgres_incremental(tmp_path: Path, stackform_for,
                                         source_and_target: tuple[str, str]) -> None:
    table, schema = source_and_target
    insert_orders(table, range(1, FIRST + 1))
    stack = copy_postgres_example(tmp_path / "replicate", source_table=table,
                                  target_schema=schema)
    sf = stackform_for(stack, {"STACKFORM_SECRET_MYSQL_PASSWORD": MYSQL_PASSWORD,
                               "STACKFORM_SECRET_POSTGRES_PASSWORD": POSTGRES_PASSWORD})
    landed_table = f'"{schema}"."{table}"'

    sf.apply()
    catalog = json.loads((stack / ".stackform" / "envs" / "mariadb-to-postgres" / "dev"
                          / "extractors" / "mariadb"
                          / "catalog.json").read_text())
    selected = {s["tap_stream_id"]: next(m["metadata"] for m in s["metadata"]
                                         if m["breadcrumb"] == [])
                for s in catalog["streams"]}
    stream = selected[f"stackform_src-{table}"]
    assert stream["selected"] is True
    assert (stream["replication-method"], stream["replication-key"]) == ("INCREMENTAL",
                                                                         "updated_at")
    assert not any(m.get("selected") for sid, m in selected.items()
                   if sid != f"stackform_src-{table}")

    first = sf.ok("run", "replicate")
    run = sf.last_run("replicate")
    assert run["status"] == "success", first
    assert (step(run)["records_emitted"], step(run)["rows_landed"]) == (FIRST, FIRST), run
    assert f"{FIRST} records emitted, {FIRST} rows landed" in first.stderr, first
    assert step(run)["details"]["records_by_stream"] == {f"stackform_src-{table}": FIRST}, run
    assert pg_rows(f"select count(*), count(distinct id), max(updated_at) from {landed_table}"
                   ) == [(FIRST, FIRST, BASE + timedelta(seconds=FIRST))]
    assert pg_rows(f"select amount from {landed_table} where id = 1234") == [(Decimal("234.25"),)]

    insert_orders(table, range(FIRST + 1, FIRST + MORE + 1))
    second = sf.ok("run", "replicate")
    assert "from the last bookmark" in second.stderr, second
    run = sf.last_run("replicate")
    emitted, landed = step(run)["records_emitted"], step(run)["rows_landed"]
    # INCREMENTAL selects updated_at >= the bookmark: the new rows, plus the bookmark's own row.
    assert MORE <= emitted <= MORE + 1, run
    assert landed == emitted, run
    assert "warning" not in step(run)["details"], run
    total = FIRST + MORE
    assert pg_rows(f"select count(*), count(distinct id) from {landed_table}") == [(total, total)]
    assert pg_rows(f"select count(*) from {landed_table} where _sdc_deleted_at is not null"
                   ) == [(0,)]

    shown = sf.ok("bookmarks", "show", "replicate").stdout
    assert "updated_at" in shown and str(BASE + timedelta(seconds=total)).replace(" ", "T") in shown

    # Nothing new: only the bookmark's row is read again, and the totals stay.
    third = sf.ok("run", "replicate")
    assert step(sf.last_run("replicate"))["records_emitted"] <= 1, third
    assert pg_rows(f"select count(*), count(distinct id) from {landed_table}") == [(total, total)]

    # The passwords reached the plugins only at run time: not in state, logs or rendered files.
    for path in (stack / ".stackform").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert MYSQL_PASSWORD not in text and POSTGRES_PASSWORD not in text, path
    assert sf.leftover_runtime_dirs() == []
