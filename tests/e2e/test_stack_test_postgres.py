"""``stackform test --sample 100`` on examples/postgres, for real: MariaDB -> PostgreSQL
(pipelinewise-tap-mysql into meltanolabs-target-postgres), then dbt-postgres. The tap is
stopped once its stream reached 100 records, exactly 100 rows land, dbt builds and tests on
them, and both schemas the throwaway environment wrote are dropped at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from e2e_support import (
    INSTALL_TIMEOUT,
    MYSQL_PASSWORD,
    POSTGRES_PASSWORD,
    copy_postgres_example,
    mysql,
    pg_rows,
    postgres,
)

pytestmark = pytest.mark.slow

ROWS = 250
SAMPLE = 100


@pytest.fixture
def source(databases: None) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    table, landing = f"orders_{suffix}", f"e2e_{suffix}"
    base = datetime(2026, 11, 1, 8, 0, 0)
    with mysql() as con, con.cursor() as cur:
        cur.execute(f"create table `{table}` (id int primary key, amount decimal(10,2) not null, "
                    "updated_at datetime(6) not null, key (updated_at))")
        cur.executemany(f"insert into `{table}` (id, amount, updated_at) values (%s, %s, %s)",
                        [(i, Decimal(i % 7) + Decimal("0.50"), base + timedelta(hours=5 * i))
                         for i in range(1, ROWS + 1)])
    try:
        yield table, landing
    finally:
        with mysql() as con, con.cursor() as cur:
            cur.execute(f"drop table if exists `{table}`")
        with postgres() as con:
            for (schema,) in con.execute("select schema_name from information_schema.schemata "
                                         "where schema_name like %s", [f"%{suffix}%"]):
                con.execute(f'drop schema if exists "{schema}" cascade')


def _schemas(like: str) -> list[str]:
    return [r[0] for r in pg_rows("select schema_name from information_schema.schemata "
                                  "where schema_name like %s order by 1", [like])]


def test_sample_of_mariadb_into_postgres_and_dbt_postgres_then_schemas_dropped(
        tmp_path: Path, stackform_for, source: tuple[str, str]) -> None:
    table, landing = source
    # Each environment lands in its own schema: a fixed one would be refused (shared).
    stack = copy_postgres_example(tmp_path / "replicate", dbt=True, source_table=table,
                                  target_schema=f"{landing}_${{stack.env_id}}")
    (stack / "README.md").unlink()
    env = f"ci-{landing.removeprefix('e2e_')}"
    env_id = env.replace("-", "_")
    sf = stackform_for(stack, {"STACKFORM_SECRET_MYSQL_PASSWORD": MYSQL_PASSWORD,
                               "STACKFORM_SECRET_POSTGRES_PASSWORD": POSTGRES_PASSWORD})
    result = sf("test", "--env", env, "--sample", str(SAMPLE), "--markdown", "report.md",
                timeout=INSTALL_TIMEOUT)
    assert result.code == 0, result
    assert f"{SAMPLE} records emitted, {SAMPLE} rows landed" in result.stderr, result
    assert "replicate: dbt:build" in result.output, result
    assert f"dropped schema {landing}_{env_id} in postgresql://127.0.0.1:5432/stackform_dw" \
        in result.stderr, result
    assert f"dropped schema analytics_{env_id} in postgresql://" in result.stderr, result
    assert _schemas(f"%{env_id}%") == []
    assert "✅ passed" in (stack / "report.md").read_text()
    assert not (stack / ".stackform" / "state" / "mariadb-to-postgres" / f"{env}.json").exists()
    for found in stack.rglob("*"):
        if found.is_file():
            text = found.read_text(errors="replace")
            assert MYSQL_PASSWORD not in text and POSTGRES_PASSWORD not in text, found
