"""The offline quickstart, for real: tap-stackform-jsonl reading JSONL files this test writes,
piped into target-stackform-duckdb, through the installed ``stackform``.

Several thousand rows in small loader batches: a loader that loses a row per batch (as
target-duckdb 0.8.0 does, taking each batch's first CSV row for a header) fails the counts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from e2e_support import copy_quickstart, duckdb_columns, duckdb_rows, step, write_orders

pytestmark = pytest.mark.slow

FILES = 3
ROWS_PER_FILE = 1500
NEW_ROWS = 1200
BATCH = 400  # does not divide the file sizes: batches straddle files


def test_quickstart_lands_every_row_once_and_reports_it(tmp_path: Path, stackform_for) -> None:
    stack = copy_quickstart(tmp_path / "quickstart", batch_size_rows=BATCH)
    old = time.time() - 7200
    written = 0
    for f in range(FILES):
        ids = range(f * ROWS_PER_FILE + 1, (f + 1) * ROWS_PER_FILE + 1)
        written += write_orders(stack / "data" / f"orders-{f:02d}.jsonl", ids, old + f * 60)
    sf = stackform_for(stack)
    warehouse = stack / "warehouse" / "dev.duckdb"

    sf.apply()
    first = sf.ok("run", "daily")
    assert f"{written} records emitted, {written} rows landed" in first.stderr, first
    assert duckdb_rows(warehouse, "select count(*), count(distinct id) from raw.orders") == [
        (written, written)]
    columns = duckdb_columns(warehouse, "raw", "orders")
    assert {"id", "customer", "amount", "status", "ordered_at"} <= set(columns), columns
    assert "internal_note" not in columns  # deselected: "!orders.internal_note"
    # Every row loaded as written, not only counted.
    assert duckdb_rows(warehouse, "select customer, status from raw.orders where id = 1") == [
        ("customer-1", "shipped")]

    run = sf.last_run("daily")
    assert run["status"] == "success"
    assert (step(run)["records_emitted"], step(run)["rows_landed"]) == (written, written), run
    assert step(run)["bookmark_moved"] is True
    listing = sf.ok("runs", "daily").stdout
    assert "success" in listing and f"{written:,}" in listing and "moved" in listing, listing
    assert sf.leftover_runtime_dirs() == []  # secrets and full configs are removed

    # Rows appended to a file already read: the next run moves only those.
    appended = stack / "data" / "orders-02.jsonl"
    write_orders(appended, range(written + 1, written + NEW_ROWS + 1), append=True)
    second = sf.ok("run", "daily")
    total = written + NEW_ROWS
    assert duckdb_rows(warehouse, "select count(*), count(distinct id) from raw.orders") == [
        (total, total)], second
    moved = step(sf.last_run("daily"))
    assert (moved["records_emitted"], moved["rows_landed"]) == (NEW_ROWS, NEW_ROWS), moved
    assert f"{NEW_ROWS} records emitted, {NEW_ROWS} rows landed" in second.stderr, second

    # A new file: again only its rows.
    new_file = stack / "data" / "orders-99.jsonl"
    write_orders(new_file, range(total + 1, total + 101))
    sf.ok("run", "daily")
    assert step(sf.last_run("daily"))["records_emitted"] == 100
    total += 100

    shown = sf.ok("bookmarks", "show", "daily").stdout
    assert "daily.orders" in shown and str(new_file) in shown, shown
    assert '"offset"' in shown, shown

    refresh = sf.ok("run", "daily", "--full-refresh")
    assert "full refresh" in refresh.stderr, refresh
    run = sf.last_run("daily")
    assert run["full_refresh"] is True
    assert (step(run)["records_emitted"], step(run)["rows_landed"]) == (total, total), run
    assert duckdb_rows(warehouse, "select count(*), count(distinct id) from raw.orders") == [
        (total, total)]
    assert sf.leftover_runtime_dirs() == []
    assert json.loads(sf.bookmark_file("daily", "orders").read_text())["value"]
