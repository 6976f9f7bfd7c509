"""examples/postgres with its dbt project, for real: MariaDB -> PostgreSQL (Singer), then
``dbt build`` with dbt-postgres (from the package index) on the PostgreSQL of this machine.

The password reaches dbt only through ``${secret.postgres_password}`` and the process
environment: it is in no file of the stack folder. The source table, the landing schema and
dbt's schema are the test's own and are removed at the end.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from e2e_support import (
    MYSQL_PASSWORD,
    POSTGRES_PASSWORD,
    copy_postgres_example,
    mysql,
    pg_rows,
    postgres,
)

pytestmark = pytest.mark.slow

ROWS = 120
BASE = datetime(2026, 11, 1, 8, 0, 0)


def row(i: int) -> tuple[int, Decimal, datetime]:
    # Five hours apart: about five orders a day over some three weeks.
    return i, Decimal(i % 7) + Decimal("0.50"), BASE + timedelta(hours=5 * i)


def expected_daily(ids: range) -> list[tuple[date, int, Decimal]]:
    orders: dict[date, int] = defaultdict(int)
    revenue: dict[date, Decimal] = defaultdict(Decimal)
    for i in ids:
        _, amount, at = row(i)
        orders[at.date()] += 1
        revenue[at.date()] += amount
    return [(d, orders[d], revenue[d]) for d in sorted(orders)]


@pytest.fixture
def names(databases: None) -> Iterator[tuple[str, str, str]]:
    suffix = uuid.uuid4().hex[:10]
    table, landing, analytics = f"orders_{suffix}", f"e2e_{suffix}", f"e2e_{suffix}_dbt"
    with mysql() as con, con.cursor() as cur:
        cur.execute(f"create table `{table}` (id int primary key, amount decimal(10,2) not null, "
                    "updated_at datetime(6) not null, key (updated_at))")
        cur.executemany(f"insert into `{table}` (id, amount, updated_at) values (%s, %s, %s)",
                        [row(i) for i in range(1, ROWS + 1)])
    try:
        yield table, landing, analytics
    finally:
        with mysql() as con, con.cursor() as cur:
            cur.execute(f"drop table if exists `{table}`")
        with postgres() as con:
            for schema in (landing, analytics):
                con.execute(f'drop schema if exists "{schema}" cascade')


def test_mariadb_to_postgres_then_dbt_postgres(tmp_path: Path, stackform_for,
                                               names: tuple[str, str, str]) -> None:
    table, landing, analytics = names
    stack = copy_postgres_example(tmp_path / "replicate", dbt=True, source_table=table,
                                  target_schema=landing)
    # The test's own dbt schema (the example builds into analytics_<env>), to drop at the end.
    path = stack / "stack.toml"
    doc: Any = tomlkit.parse(path.read_text())
    doc["transformers"]["dbt"]["target"]["schema"] = analytics
    path.write_text(tomlkit.dumps(doc))
    (stack / "README.md").unlink()  # its "Try it" shows the default passwords
    sf = stackform_for(stack, {"STACKFORM_SECRET_MYSQL_PASSWORD": MYSQL_PASSWORD,
                               "STACKFORM_SECRET_POSTGRES_PASSWORD": POSTGRES_PASSWORD})

    sf.apply()
    profile = json.loads((stack / ".stackform" / "envs" / "mariadb-to-postgres" / "dev"
                          / "transformers" / "dbt"
                          / "profiles" / "profiles.yml").read_text())
    output = profile["replicated"]["outputs"]["dev"]
    assert output["password"] == "{{ env_var('STACKFORM_DBT_PASSWORD') }}", output
    assert (output["type"], output["schema"], output["dbname"]) == (
        "postgres", analytics, "stackform_dw"), output

    run = sf.ok("run", "replicate")
    assert f"{ROWS} records emitted, {ROWS} rows landed" in run.stderr, run
    assert "dbt:build: 8 ok, 0 failed, 0 skipped" in run.stderr, run
    record = sf.last_run("replicate")
    assert record["status"] == "success", record
    assert [s["name"] for s in record["steps"]] == ["mariadb-to-warehouse", "dbt:build"], record
    assert pg_rows(f'select day, orders, revenue from "{analytics}".daily_revenue order by day'
                   ) == expected_daily(range(1, ROWS + 1))
    assert pg_rows(f'select count(*), sum(amount) from "{analytics}".stg_orders') == [
        (ROWS, sum(row(i)[1] for i in range(1, ROWS + 1)))]
    assert pg_rows("select table_type from information_schema.tables where table_schema = %s "
                   "and table_name = 'stg_orders'", [analytics]) == [("VIEW",)]

    # A failing dbt test fails the run and names the test.
    tests = stack / "transform" / "tests"
    tests.mkdir()
    (tests / "assert_amounts_below_six.sql").write_text(
        "select order_id, amount from {{ ref('stg_orders') }} where amount > 6\n")
    assert "+ test assert_amounts_below_six (new)" in sf.ok("plan").stdout
    sf.apply()
    failed = sf("run", "replicate")
    assert failed.code == 1, failed
    over = sum(1 for i in range(1, ROWS + 1) if row(i)[1] > 6)
    assert (f"test assert_amounts_below_six: Got {over} results, configured to fail if != 0"
            in failed.output), failed
    record = sf.last_run("replicate")
    assert record["status"] == "failed", record
    assert record["steps"][-1]["details"]["failed"] == [
        f"test assert_amounts_below_six: Got {over} results, configured to fail if != 0"], record

    # The passwords are in no file of the stack: state, profile, dbt's target/ and logs, runs.
    assert POSTGRES_PASSWORD not in (stack / "stack.toml").read_text()
    for found in stack.rglob("*"):
        if found.is_file():
            text = found.read_text(errors="replace")
            assert MYSQL_PASSWORD not in text and POSTGRES_PASSWORD not in text, found
    assert sf.leftover_runtime_dirs() == []
