"""A source column dropped in PostgreSQL, found by discovery (issue 15): meltanolabs-tap-postgres
reading the machine's PostgreSQL, stackform's DuckDB loader, dbt-duckdb reading what landed.
``plan --refresh-catalog`` reports the dropped column as a change of the extractor, and what it
breaks downstream: the loader's column, the dbt source column and the model reading it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import POSTGRES, POSTGRES_PASSWORD, postgres

pytestmark = pytest.mark.slow


@pytest.fixture
def source_schema(databases: None) -> Iterator[str]:
    schema = f"e2e_src_{uuid.uuid4().hex[:10]}"
    with postgres() as con:
        con.execute(f'create schema "{schema}"')
        con.execute(f'create table "{schema}".orders (id integer primary key, amount numeric, '
                    "status text, note text)")
    try:
        yield schema
    finally:
        with postgres() as con:
            con.execute(f'drop schema if exists "{schema}" cascade')


def write_stack(stack: Path, schema: str) -> None:
    table = f"{schema}_orders"  # the stream <schema>-orders, as stackform's loader names it
    models = stack / "transform" / "models"
    models.mkdir(parents=True)
    (stack / "transform" / "dbt_project.yml").write_text(
        'name: dropped\nversion: "1.0.0"\nprofile: dropped\nmodel-paths: ["models"]\n')
    (models / "sources.yml").write_text(f"""\
version: 2
sources:
  - name: raw
    schema: raw
    tables:
      - name: {table}
""")
    (models / "stg_orders.sql").write_text(
        f"select id, amount, status from {{{{ source('raw', '{table}') }}}}\n")
    (models / "open_orders.sql").write_text(
        "select id, status from {{ ref('stg_orders') }} where status = 'open'\n")
    (stack / "stack.toml").write_text(f"""\
[stack]
name = "dropped"

[extractors.source]
pip_url = "meltanolabs-tap-postgres==0.10.0"
executable = "tap-postgres"
select = ["{schema}-orders.*", "!{schema}-orders.note"]

[extractors.source.config]
host = "{POSTGRES['host']}"
port = {POSTGRES['port']}
user = "{POSTGRES['user']}"
password = "${{secret.postgres_password}}"
database = "{POSTGRES['dbname']}"
filter_schemas = ["{schema}"]

[loaders.warehouse]
pip_url = "stackform:target-duckdb"
config = {{ path = "warehouse.duckdb", default_target_schema = "raw" }}

[transformers.dbt]
pip_url = "dbt-duckdb==1.11.1 dbt-core<1.12"
project_dir = "transform"
target = {{ type = "duckdb", path = "warehouse.duckdb" }}

[pipelines.copy]
steps = ["source", "warehouse", "dbt:build"]
""")


def test_a_column_dropped_at_the_source_breaks_what_reads_it(
        tmp_path: Path, stackform_for, source_schema: str) -> None:
    stack = tmp_path / "dropped"
    write_stack(stack, source_schema)
    sf = stackform_for(stack, {"STACKFORM_SECRET_POSTGRES_PASSWORD": POSTGRES_PASSWORD})
    sf.apply()
    assert sf.ok("plan", "--refresh-catalog").stdout.startswith("No changes.")

    with postgres() as con:
        con.execute(f'alter table "{source_schema}".orders drop column status')
    assert sf.ok("plan").stdout.startswith("No changes."), "the catalog is frozen"
    planned = sf("plan", "--refresh-catalog", "--fail-on-breaking")
    assert planned.code == 3, planned
    stream, table = f"{source_schema}-orders", f"raw.{source_schema}_orders"
    assert ("# extractors.source will be updated in place (the source's schema changed "
            "since the last apply)") in planned.stdout, planned
    assert f"- column {stream}.status" in planned.stdout
    assert (f"! removing stream {stream}.status (extractors.source) breaks: table "
            f"{table}.status -> source {table}.status -> model stg_orders.status -> model "
            "open_orders.status") in planned.stdout, planned
    assert "outside stackform" not in planned.stdout
    assert POSTGRES_PASSWORD not in planned.stdout + planned.stderr

    sf.apply("--refresh-catalog")
    assert sf.ok("plan", "--refresh-catalog").stdout.startswith("No changes.")
