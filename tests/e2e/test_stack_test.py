"""``stackform test`` on the quickstart, for real (JSONL -> DuckDB -> dbt-duckdb): the
throwaway environment is applied, run, checked and destroyed, leaving no state, no schema, no
DuckDB file and no rendered file; two run in parallel without seeing each other's rows; a
failing dbt test fails its check by name and the environment is still destroyed; a ``kill -9``
leaves an environment that ``env destroy --older-than 0s`` removes, schemas included.
"""

from __future__ import annotations

import json
import os
import signal
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from e2e_support import (
    INSTALL_TIMEOUT,
    Stackform,
    copy_quickstart,
    duckdb_rows,
    state_traces,
    wait_until,
    write_orders,
)

pytestmark = pytest.mark.slow

ORDERS = 300
CHECKS = """
[tests.no_negative_revenue]
sql = "select * from analytics_${stack.env_id}.customer_revenue where revenue < 0"
connection = "transformers.dbt"

[tests.orders_landed]
sql = "select * from raw.orders"
connection = "loaders.warehouse"
min_rows = 1
"""


def _stack(tmp_path: Path) -> Path:
    stack = copy_quickstart(tmp_path / "quickstart", dbt=True)
    write_orders(stack / "data" / "orders-01.jsonl", range(1, ORDERS + 1), time.time() - 3600)
    with (stack / "stack.toml").open("a") as f:
        f.write(CHECKS)
    return stack


def assert_nothing_left(sf: Stackform, stack: Path, env: str) -> None:
    listed = json.loads(sf.ok("env", "list", "--format", "json").stdout)["environments"]
    assert env not in [row["name"] for row in listed], listed
    assert state_traces(stack, env) == []
    assert not (stack / ".stackform" / "envs" / "quickstart" / env).exists()
    assert not (stack / ".stackform" / "runs" / "quickstart" / env).exists()
    assert not (stack / "warehouse" / f"{env}.duckdb").exists()
    assert not (stack / "out" / env / "settings.env").exists()
    assert sf.leftover_runtime_dirs() == []


def test_quickstart_passes_with_its_checks_and_leaves_nothing(tmp_path: Path,
                                                              stackform_for) -> None:
    stack = _stack(tmp_path)
    sf = stackform_for(stack)
    result = sf("test", "--env", "ci-one", "--junit", "junit.xml", "--markdown", "test.md",
                timeout=INSTALL_TIMEOUT)
    assert result.code == 0, result
    assert "stackform test passed in ci-one" in result.stderr, result
    assert f"{ORDERS} records emitted, {ORDERS} rows landed" in result.stderr, result
    assert "dropped schema analytics_ci_one" in result.stderr, result
    suite = ET.parse(stack / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names == ["apply", "daily: orders-to-warehouse", "daily: dbt:build",
                     "test no_negative_revenue", "test orders_landed"], names
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    markdown = (stack / "test.md").read_text()
    assert "### stackform test: ✅ passed" in markdown
    assert "| test orders_landed | ✅ passed |" in markdown
    assert_nothing_left(sf, stack, "ci-one")
    # The quickstart's own environments were never touched.
    assert not (stack / "warehouse" / "dev.duckdb").exists()


def test_two_in_parallel_see_only_their_own_rows(tmp_path: Path, stackform_for) -> None:
    stack = _stack(tmp_path)
    sf = stackform_for(stack)
    sf.apply("--target", "loaders.warehouse")  # shared plugin installs, warm for both
    procs = {env: sf.start("test", "--env", env, "--sample", str(n), "--keep")
             for env, n in (("par-a", 40), ("par-b", 70))}
    for env, proc in procs.items():
        out, err = proc.communicate(timeout=INSTALL_TIMEOUT)
        assert proc.returncode == 0, (env, out, err)
        assert "kept" in err, err
    for env, n in (("par-a", 40), ("par-b", 70)):
        warehouse = stack / "warehouse" / f"{env}.duckdb"
        assert duckdb_rows(warehouse, "select count(*) from raw.orders") == [(n,)]
        mart = f"analytics_{env.replace('-', '_')}.customer_revenue"
        assert duckdb_rows(warehouse, f"select sum(orders) from {mart}") == [(n,)]
    listed = sf.ok("env", "list").stderr + sf.ok("env", "list").stdout
    assert "throwaway" in listed, listed
    # A kept environment is there to debug: plan, run and lineage reach it by name, resolved
    # from the base its state records.
    plan = sf.ok("plan", "--env", "par-a")
    assert "No changes" in plan.output, plan
    rerun = sf.ok("run", "daily", "--env", "par-a", timeout=INSTALL_TIMEOUT)
    assert "orders-to-warehouse: success" in rerun.stderr, rerun
    warehouse = stack / "warehouse" / "par-a.duckdb"
    assert duckdb_rows(warehouse, "select count(*) from raw.orders") == [(ORDERS,)]
    assert "par_a" in sf.ok("lineage", "--env", "par-a", "--format", "json").stdout
    assert duckdb_rows(stack / "warehouse" / "par-b.duckdb",
                       "select count(*) from raw.orders") == [(70,)], "par-b untouched"
    # One by name, the rest by the clean-up of environments a killed job left: throwaway
    # ones only, not dev.
    one = sf.ok("env", "destroy", "par-a", "--yes")
    assert "par-a" in one.output, one
    assert_nothing_left(sf, stack, "par-a")
    assert (stack / "warehouse" / "par-b.duckdb").exists()
    removed = sf.ok("env", "destroy", "--older-than", "0s", "--yes")
    assert "par-b" in removed.stderr, removed
    for env in procs:
        assert_nothing_left(sf, stack, env)
    assert "dev" in sf.ok("env", "list", "--format", "json").stdout


def test_a_failing_dbt_test_fails_its_check_by_name_and_the_env_is_destroyed(
        tmp_path: Path, stackform_for) -> None:
    stack = _stack(tmp_path)
    (stack / "transform" / "tests").mkdir()
    (stack / "transform" / "tests" / "assert_no_customer_over_two_orders.sql").write_text(
        "select customer_name, orders from {{ ref('customer_revenue') }} where orders > 2\n")
    sf = stackform_for(stack)
    result = sf("test", "--env", "ci-fail", "--junit", "junit.xml", timeout=INSTALL_TIMEOUT)
    assert result.code == 1, result
    assert "test assert_no_customer_over_two_orders" in result.output, result
    assert "environment destroyed" in result.stderr, result
    suite = ET.parse(stack / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1", ET.tostring(suite)
    failed = [case for case in suite.iter("testcase") if case.find("failure") is not None]
    assert [case.get("name") for case in failed] == ["daily: dbt:build"]
    message = failed[0].find("failure").get("message")  # type: ignore[union-attr]
    assert "assert_no_customer_over_two_orders" in (message or ""), message
    assert_nothing_left(sf, stack, "ci-fail")


def test_kill_9_leaves_an_env_that_env_destroy_older_than_removes(tmp_path: Path,
                                                                  stackform_for) -> None:
    stack = _stack(tmp_path)
    sf = stackform_for(stack)
    proc = sf.start("test", "--env", "ci-killed")
    warehouse = stack / "warehouse" / "ci-killed.duckdb"
    try:
        # Killed once the pipeline landed rows: state, schemas and run state all exist.
        wait_until(lambda: (stack / ".stackform" / "runs" / "quickstart" / "ci-killed"
                            / "bookmarks").is_dir() and any(
            (stack / ".stackform" / "runs" / "quickstart" / "ci-killed" / "bookmarks")
            .iterdir()), INSTALL_TIMEOUT, "the first bookmark", proc, interval=0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert warehouse.exists()
    assert (stack / ".stackform" / "state" / "quickstart" / "ci-killed.json").exists()
    time.sleep(1.1)  # state times are to the second
    removed = sf.ok("env", "destroy", "--older-than", "0s", "--yes")
    assert "ci-killed" in removed.stderr, removed
    assert "dropped schema raw" in removed.stderr, removed
    assert_nothing_left(sf, stack, "ci-killed")


def test_bad_check_declarations_and_shared_schemas_are_refused_before_anything_is_made(
        tmp_path: Path, stackform_for) -> None:
    stack = _stack(tmp_path)
    text = (stack / "stack.toml").read_text()
    (stack / "stack.toml").write_text(text + '\n[tests.broken]\nsql = "select 1"\n'
                                      'connection = "loaders.nope"\n')
    sf = stackform_for(stack)
    bad = sf("test", "--env", "ci-bad")
    assert bad.code == 1, bad
    line = len(text.splitlines()) + 4
    assert f"stack.toml:{line}:" in bad.stderr, bad
    assert "connection 'loaders.nope' is no block of the stack" in bad.stderr, bad
    assert "hint: name a block with a warehouse: loaders.warehouse, transformers.dbt" \
        in bad.stderr, bad
    assert not (stack / ".stackform" / "state").exists()
    # One DuckDB file for every environment: dropping the test's `raw` would drop dev's.
    (stack / "stack.toml").write_text(text.replace('warehouse = "warehouse/${stack.env}.duckdb"',
                                                   'warehouse = "warehouse/shared.duckdb"'))
    shared = sf("test", "--env", "ci-shared")
    assert shared.code == 1, shared
    assert "loaders.warehouse writes schema raw in duckdb:" in shared.stderr, shared
    assert "in ci-shared and in dev" in shared.stderr, shared
    assert 'hint: name the schema per environment, e.g. "raw_${stack.env_id}"' \
        in shared.stderr, shared
    assert not (stack / ".stackform" / "state").exists()


def test_sigterm_in_the_middle_still_destroys_the_environment(tmp_path: Path,
                                                              stackform_for) -> None:
    stack = _stack(tmp_path)
    sf = stackform_for(stack)
    proc = sf.start("test", "--env", "ci-term")
    bookmarks = stack / ".stackform" / "runs" / "quickstart" / "ci-term" / "bookmarks"
    try:
        wait_until(lambda: bookmarks.is_dir() and any(bookmarks.iterdir()), INSTALL_TIMEOUT,
                   "the first bookmark", proc, interval=0.05)
    finally:
        proc.send_signal(signal.SIGTERM)  # as CI cancels a job
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, (out, err)
    assert "interrupted: destroying the environment" in err, err
    assert "environment destroyed" in err, err
    assert_nothing_left(sf, stack, "ci-term")
