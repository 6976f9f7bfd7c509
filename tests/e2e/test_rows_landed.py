"""Rows landed, counted however the loader allows, and never silently left out.

With real loaders from the package index: ``target-duckdb`` 0.8.0 (no arrival-time column
unless asked, and it loses the first row of every batch: the tables' growth catches it) and
``target-jsonl`` (no database: the count is unknown, and the report says so). ``stackform
test`` fails a step whose stream lost rows, naming the stream.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit
from e2e_support import copy_quickstart, duckdb_rows, write_orders

pytestmark = pytest.mark.slow


def _loader(stack: Path, pip_url: str, config: dict[str, object]) -> None:
    path = stack / "stack.toml"
    doc = tomlkit.parse(path.read_text())
    loader = doc["loaders"]["warehouse"]  # type: ignore[index]
    loader["pip_url"] = pip_url
    loader["config"] = config
    path.write_text(tomlkit.dumps(doc))


def test_a_loader_that_loses_rows_is_caught_by_the_tables_growth(
        tmp_path: Path, stackform_for) -> None:
    stack = copy_quickstart(tmp_path / "stack")
    _loader(stack, "target-duckdb==0.8.0", {"path": "warehouse/dev.duckdb",
                                            "default_target_schema": "raw"})
    (stack / "warehouse").mkdir()
    written = write_orders(stack / "data" / "orders-00.jsonl", range(1, 201))
    sf = stackform_for(stack)
    sf.apply()
    result = sf.ok("run", "daily")
    rows = duckdb_rows(stack / "warehouse" / "dev.duckdb", "select count(*) from raw.orders")
    [(landed,)] = rows
    assert landed < written, "target-duckdb 0.8.0 no longer loses rows: pick another case"
    assert f"{written} records emitted, {landed} rows landed (tables' growth)" in result.stderr
    assert f"a loader that appends lost {written - landed} rows" in result.output, result
    [step] = sf.last_run("daily")["steps"]
    assert (step["records_emitted"], step["rows_landed"]) == (written, landed)
    assert step["details"]["rows_landed_by"] == "delta"
    assert step["details"]["rows_by_stream"] == {"orders": landed}, step["details"]


def test_a_count_that_cannot_be_had_is_said_to_be_unknown(tmp_path: Path, stackform_for
                                                          ) -> None:
    stack = copy_quickstart(tmp_path / "stack")
    _loader(stack, "target-jsonl==0.1.4", {"destination_path": "out",
                                           "do_timestamp_file": False})
    (stack / "out").mkdir()
    written = write_orders(stack / "data" / "orders-00.jsonl", range(1, 11))
    sf = stackform_for(stack)
    sf.apply()
    result = sf.ok("run", "daily")
    assert f"{written} records emitted, rows landed: unknown" in result.stderr, result
    [step] = sf.last_run("daily")["steps"]
    assert step["rows_landed"] is None and step["details"]["rows_landed_by"] == "unknown"
    assert "rows_by_stream" not in step["details"], "no count per stream is guessed"


def test_stackform_test_names_the_stream_that_lost_rows(tmp_path: Path, stackform_for
                                                        ) -> None:
    stack = copy_quickstart(tmp_path / "stack")
    _loader(stack, "target-duckdb==0.8.0", {"path": "warehouse/${stack.env}.duckdb",
                                            "default_target_schema": "raw"})
    (stack / "warehouse").mkdir()
    written = write_orders(stack / "data" / "orders-00.jsonl", range(1, 201))
    sf = stackform_for(stack)
    tested = sf("test", "--env", "ci-lossy", timeout=900)
    assert tested.code == 1, tested
    assert f"stream orders: {written} records emitted but " in tested.output, tested
    assert "environment destroyed" in tested.stderr, tested
    assert not (stack / "warehouse" / "ci-lossy.duckdb").exists()
