"""``stackform invoke`` on the quickstart, for real: the JSONL tap's ``--about`` and dbt-duckdb's
``dbt show`` with the environment's profile; its exit code passed through; blocks that cannot
be invoked refused (docs/connectors.md)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from e2e_support import copy_quickstart, write_orders

pytestmark = pytest.mark.slow


def test_invoke_runs_a_blocks_executable_with_the_environments_config(
        tmp_path: Path, stackform_for) -> None:
    stack = copy_quickstart(tmp_path / "quickstart", dbt=True)
    write_orders(stack / "data" / "orders-01.jsonl", range(1, 6), time.time() - 3600)
    sf = stackform_for(stack)

    # Failure paths first: nothing is installed or recorded by them.
    unknown = sf("invoke", "ordres", "--", "--about")
    assert unknown.code == 1, unknown
    assert "no block 'ordres' in the stack (environment dev)" in unknown.stderr
    assert "did you mean 'orders'?" in unknown.stderr
    files = sf("invoke", "files.settings")
    assert files.code == 1, files
    assert "files.settings: files blocks have no executable to invoke" in files.stderr
    assert ("blocks that have one: extractors.orders, loaders.warehouse, transformers.dbt"
            in files.stderr)

    # A tap's --about, before any apply (installed from the cache, nothing recorded).
    about = sf("invoke", "extractors.orders", "--", "--about", "--format=json", timeout=900)
    assert about.code == 0, about
    assert json.loads(about.stdout)["name"] == "tap-stackform-jsonl"
    assert sf.ok("state", "list").stdout.strip() == ""

    sf.apply()
    sf.ok("run", "daily")
    shown = sf("invoke", "dbt", "--", "show", "--select", "stg_orders", "--limit", "3")
    assert shown.code == 0, shown
    assert "Previewing node 'stg_orders'" in shown.stdout, shown
    assert "order_id" in shown.stdout and "target='dev'" in shown.stdout
    # dbt's own failure: its exit code (2: an error dbt did not handle) passes through.
    failed = sf("invoke", "transformers.dbt", "--", "show", "--inline",
                "select * from no_such_table")
    assert failed.code == 2, failed
    assert "no_such_table" in failed.stdout + failed.stderr
    assert sf.leftover_runtime_dirs() == []
    assert sf.ok("plan").stdout.startswith("No changes."), "invoke records nothing"
