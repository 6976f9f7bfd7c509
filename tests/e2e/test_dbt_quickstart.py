"""The quickstart with its dbt project, for real: JSONL orders this test writes are loaded into
DuckDB by the Singer pipeline, then ``dbt build`` (dbt-duckdb from the package index) builds
``stg_orders`` and the mart ``customer_revenue`` in the same file, in schema ``analytics_dev``.

The mart's rows are checked against values computed here from the orders written; editing the
staging model shows it as a change of the transformer (never as drift), with the mart and the
tests it affects, and ``stackform run`` before the apply runs the edit with a warning naming the
file (a protected environment refuses it); a failing dbt test fails ``stackform run``, naming the
test.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from e2e_support import copy_quickstart, duckdb_columns, duckdb_rows, order, write_orders

pytestmark = pytest.mark.slow

FIRST = 400
MORE = 150
MART = "analytics_dev.customer_revenue"
MART_SQL = (f"select customer_name, orders, revenue, cast(epoch(last_ordered_at) as bigint) "
            f"from {MART} order by customer_name")
STAGING = "transform/models/staging/stg_orders.sql"


def expected_mart(ids: range) -> list[tuple[Any, ...]]:
    """customer_revenue as it must be for the orders ``ids``: count, exact revenue, last order."""
    count: dict[str, int] = defaultdict(int)
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    last: dict[str, int] = {}
    for i in ids:
        row = order(i)
        customer = row["customer"]
        count[customer] += 1
        revenue[customer] += Decimal(str(row["amount"])).quantize(Decimal("0.01"))
        at = int(datetime.fromisoformat(row["ordered_at"].replace("Z", "+00:00")).timestamp())
        last[customer] = max(last.get(customer, at), at)
    return [(c, count[c], revenue[c], last[c]) for c in sorted(count)]


def dbt_step(run: dict[str, Any]) -> dict[str, Any]:
    names = [s["name"] for s in run["steps"]]
    assert names == ["orders-to-warehouse", "dbt:build"], run
    return run["steps"][1]


def test_quickstart_builds_the_mart_plans_model_changes_and_fails_on_a_failing_test(
        tmp_path: Path, stackform_for) -> None:
    stack = copy_quickstart(tmp_path / "quickstart", dbt=True)
    write_orders(stack / "data" / "orders-01.jsonl", range(1, FIRST + 1), time.time() - 3600)
    sf = stackform_for(stack)
    warehouse = stack / "warehouse" / "dev.duckdb"
    dbt_folder = stack / ".stackform" / "envs" / "quickstart" / "dev" / "transformers" / "dbt"

    first_plan = sf.ok("plan").stdout
    assert "+ transformers.dbt" in first_plan, first_plan
    assert "dbt project: 2 models (parsed at apply)" in first_plan, first_plan
    assert "builds into schema analytics_dev" in first_plan, first_plan
    sf.apply()
    # The environment's own profile, under .stackform; nothing dbt writes lands in the project.
    assert (dbt_folder / "profiles" / "profiles.yml").is_file()
    assert json.loads((dbt_folder / "profiles" / "profiles.yml").read_text())[
        "quickstart"]["outputs"]["dev"]["path"] == str(warehouse)
    leftovers = [d for d in ("target", "logs", "profiles.yml")
                 if (stack / "transform" / d).exists()]
    assert leftovers == [], leftovers

    # Load, then dbt build in the same DuckDB file (the loader has closed it by then).
    run = sf.ok("run", "daily")
    assert f"{FIRST} records emitted, {FIRST} rows landed" in run.stderr, run
    assert "dbt:build: 10 ok, 0 failed, 0 skipped" in run.stderr, run
    record = sf.last_run("daily")
    assert record["status"] == "success", record
    built = dbt_step(record)
    assert built["status"] == "success", built
    assert (built["details"]["success"], built["details"]["error"]) == (10, 0), built
    assert duckdb_rows(warehouse, MART_SQL) == expected_mart(range(1, FIRST + 1))
    assert duckdb_rows(warehouse, "select table_type from information_schema.tables where "
                       "table_schema = 'analytics_dev' and table_name = 'stg_orders'") == [
        ("VIEW",)]
    assert sf.ok("plan", "--detailed-exitcode").code == 0  # nothing changed since the apply

    # Edit the staging model: the plan names it, and the mart and tests below it.
    staging = stack / STAGING
    source = staging.read_text()
    assert "    status,\n" in source
    staging.write_text(source.replace(
        "    status,\n", "    status,\n    status = 'delivered' as is_delivered,\n"))
    text = sf("plan", "--detailed-exitcode")
    assert text.code == 2, text
    # A change of the transformer, said node by node; not something changed outside stackform.
    assert ("# transformers.dbt will be updated in place (dbt project files changed since the "
            "last apply)") in text.stdout, text
    assert "~ transformers.dbt" in text.stdout, text
    assert "~ model staging.stg_orders (changed)" in text.stdout, text
    assert "Changed outside stackform" not in text.stdout, text
    assert "project_files" not in text.stdout, text
    affects = next(line for line in text.stdout.splitlines() if "affects:" in line)
    for child in ("model marts.customer_revenue", "test unique_customer_revenue_customer_name",
                  "test not_null_customer_revenue_orders", "test unique_stg_orders_order_id"):
        assert child in affects, affects
    assert "Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy." in text.stdout, text
    plan = json.loads(sf.ok("plan", "--format", "json").stdout)
    assert plan["resource_drift"] == [], plan["resource_drift"]
    change = next(c for c in plan["resource_changes"] if c["address"] == "transformers.dbt")
    assert change["change"]["actions"] == ["update"], change
    assert change["notes"][0] == "~ model staging.stg_orders (changed)", change
    assert change["notes"][1].startswith("  affects: model marts.customer_revenue, test "), change
    others = [c for c in plan["resource_changes"] if c["address"] != "transformers.dbt"]
    assert all(c["change"]["actions"] == ["no-op"] for c in others), others

    # Running before the apply runs the edit as it is now, saying so (dev is not protected).
    unapplied = sf.ok("run", "daily")
    warning = ("warning: transformers.dbt runs with dbt project files changed since its last "
               f"apply in dev: {STAGING}")
    assert warning in unapplied.stderr, unapplied
    assert "dbt:build: 10 ok, 0 failed, 0 skipped" in unapplied.stderr, unapplied
    assert "is_delivered" in duckdb_columns(warehouse, "analytics_dev", "stg_orders")
    assert any(warning in line for line in Path(sf.last_run("daily")["log"]).read_text()
               .splitlines()), "the warning is in the run's log too"

    sf.apply()
    assert sf.ok("plan", "--detailed-exitcode").code == 0
    # New orders appended: the next run loads only them, and dbt rebuilds the mart on all.
    write_orders(stack / "data" / "orders-01.jsonl", range(FIRST + 1, FIRST + MORE + 1),
                 append=True)
    again = sf.ok("run", "daily")
    assert f"{MORE} records emitted, {MORE} rows landed" in again.stderr, again
    assert "dbt:build: 10 ok, 0 failed" in again.stderr, again
    assert "is_delivered" in duckdb_columns(warehouse, "analytics_dev", "stg_orders")
    assert duckdb_rows(warehouse, MART_SQL) == expected_mart(range(1, FIRST + MORE + 1))
    delivered = sum(1 for i in range(1, FIRST + MORE + 1) if order(i)["status"] == "delivered")
    assert duckdb_rows(warehouse, "select count(*) from analytics_dev.stg_orders "
                       "where is_delivered") == [(delivered,)]

    # A singular test that fails: the plan shows it new, and the run fails naming it.
    (stack / "transform" / "tests").mkdir()
    (stack / "transform" / "tests" / "assert_no_customer_over_five_orders.sql").write_text(
        "select customer_name, orders from {{ ref('customer_revenue') }} where orders > 5\n")
    assert "+ test assert_no_customer_over_five_orders (new)" in sf.ok("plan").stdout
    sf.apply()
    failed = sf("run", "daily")
    assert failed.code == 1, failed
    assert "test assert_no_customer_over_five_orders" in failed.output, failed
    assert "configured to fail if != 0" in failed.output, failed
    record = sf.last_run("daily")
    assert record["status"] == "failed", record
    broken = dbt_step(record)
    assert broken["status"] == "failed", broken
    assert broken["details"]["exit_code"] == 1, broken
    over = sum(1 for row in expected_mart(range(1, FIRST + MORE + 1)) if row[1] > 5)
    assert over > 0
    assert broken["details"]["failed"] == [
        f"test assert_no_customer_over_five_orders: Got {over} results, configured to fail "
        "if != 0"], broken
    # The models still built; only the test failed.
    assert duckdb_rows(warehouse, MART_SQL) == expected_mart(range(1, FIRST + MORE + 1))
    assert sf.leftover_runtime_dirs() == []


def git(repo: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent), "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def test_protected_environment_refuses_to_run_an_unapplied_dbt_edit(
        tmp_path: Path, stackform_for) -> None:
    """prod runs only what was applied: SQL that never went through a plan is refused before
    anything runs, naming the file."""
    stack = copy_quickstart(tmp_path / "quickstart", dbt=True)
    write_orders(stack / "data" / "orders-01.jsonl", range(1, 21), time.time() - 3600)
    (stack / ".gitignore").write_text(".stackform/\nwarehouse/\nout/\n")
    git(stack, "init", "-q", "-b", "main")
    git(stack, "add", "-A")
    git(stack, "commit", "-q", "-m", "stack")
    sf = stackform_for(stack)
    sf.apply("--env", "prod")

    staging = stack / STAGING
    staging.write_text(staging.read_text().replace(
        "    status,\n", "    status,\n    'unreviewed' as note,\n"))
    refused = sf("run", "daily", "--env", "prod")
    assert refused.code == 1, refused
    assert ("refusing to run transformers.dbt in protected environment prod: dbt project files "
            f"changed since its last apply: {STAGING}") in refused.stderr, refused
    assert "review the change with `stackform plan --env prod`" in refused.stderr, refused
    assert json.loads(sf.ok("runs", "--env", "prod", "--format", "json").stdout) == [], \
        "nothing ran"

    # Reverted, it runs.
    git(stack, "checkout", "--", STAGING)
    ran = sf.ok("run", "daily", "--env", "prod")
    assert "warning:" not in ran.output, ran
    assert "dbt:build: 10 ok, 0 failed, 0 skipped" in ran.stderr, ran
