"""``kill -9`` of ``stackform run`` while the tap is still producing, for real.

The tap (tap-stackform-jsonl) and the target (target-stackform-duckdb) must die with stackform:
nothing may go on loading rows no bookmark will ever record, and a retry started at once must
not run beside them. The killed run's runtime folder (its full configs) stays until the retry
sweeps it, and the retry must land every row exactly once.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from e2e_support import (
    alive,
    cmdline,
    copy_quickstart,
    duckdb_rows,
    find_descendant,
    runtime_dirs,
    wait_until,
    write_orders,
)

pytestmark = pytest.mark.slow

FIRST = 1_000
SECOND = 400_000
BATCH = 50_000
"""The tap writes a STATE after each file only; the target commits a batch whenever it is full.
So after the first file's bookmark the target goes on loading the second file for seconds
without printing anything: unsupervised, it would commit it all with no bookmark recorded."""


def _warehouse_rows(path: Path) -> int:
    return int(duckdb_rows(path, "select count(*) from raw.orders")[0][0])


def test_kill_9_of_run_kills_its_plugins_and_a_retry_runs_alone(tmp_path: Path,
                                                                 stackform_for) -> None:
    stack = copy_quickstart(tmp_path / "stack", batch_size_rows=BATCH,
                            extractor_config={"state_every_rows": 10 * SECOND})
    first = time.time() - 3600
    written = write_orders(stack / "data" / "orders-00.jsonl", range(1, FIRST + 1), first)
    written += write_orders(stack / "data" / "orders-01.jsonl",
                            range(FIRST + 1, FIRST + SECOND + 1), first + 60)
    sf = stackform_for(stack)
    warehouse = stack / "warehouse" / "dev.duckdb"
    sf.apply()
    bookmark = sf.bookmark_file("daily", "orders")

    proc = sf.start("run", "daily")
    try:
        tap = wait_until(lambda: find_descendant(proc.pid, "bin/tap-stackform-jsonl"), 60,
                         "the tap", proc)
        target = wait_until(lambda: find_descendant(proc.pid, "bin/target-stackform-duckdb"),
                            60, "the target", proc)
        wait_until(bookmark.exists, 120, "the first bookmark", proc, interval=0.002)
        assert alive(tap), "the tap finished before the kill: use more rows"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    killed_at = time.monotonic()

    # Both plugins are gone at once: not left to finish the load unsupervised.
    def gone() -> bool:
        # A process being torn down has no cmdline left but may still hold its files (the
        # warehouse's lock): it counts as alive until every one of its threads is dead.
        return not any(alive(pid) and (name in cmdline(pid) or not cmdline(pid))
                       for pid, name in ((tap, "tap-stackform-jsonl"),
                                         (target, "target-stackform-duckdb")))

    while not gone() and time.monotonic() - killed_at < 5.0:  # seconds, on a loaded machine
        time.sleep(0.01)
    assert gone(), "the tap or the target outlived the killed stackform run"
    # Nothing loads behind our back: the count stays where the kill left it.
    after_kill = _warehouse_rows(warehouse)
    assert after_kill < written, "the whole load finished before the kill: use more rows"
    time.sleep(1.0)
    assert _warehouse_rows(warehouse) == after_kill

    # The killed run's runtime folder (configs, state) waits for the next run to sweep it.
    left = runtime_dirs(stack)
    assert [p.name.split("-")[0] for p in left] == ["run"], left
    assert all(oct(p.stat().st_mode & 0o777) == "0o700" for p in left)
    # The target's staged batches are in it too, not in the machine's temp folder.
    assert list((left[0] / "tmp").glob("target-stackform-duckdb-*")), list(left[0].iterdir())
    assert not list(sf.tmpdir.glob("target-stackform-duckdb-*"))

    again = sf.ok("run", "daily")
    assert "from the last bookmark" in again.stderr, again
    assert sf.leftover_runtime_dirs() == []
    log = Path(sf.last_run("daily")["log"])
    log = log if log.is_absolute() else stack / ".stackform" / "runs" / log
    assert f"removed runtime folder {left[0].name}" in log.read_text()
    assert duckdb_rows(warehouse, "select count(*), count(distinct id), min(id), max(id) "
                       "from raw.orders") == [(written, written, 1, written)], again
    runs = sf.runs("daily")
    assert [r["status"] for r in runs] == ["success", "interrupted"], runs
