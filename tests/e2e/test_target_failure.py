"""A pipeline whose loader dies in the middle, and one whose extractor fails, for real.

The loader (target-stackform-duckdb) commits its rows, then prints the STATE it was given;
stackform saves each such bookmark at once. When the loader is killed mid-run, the saved
bookmark must be the last one it printed (never one it did not confirm), the run must fail
naming the target, no plugin process may survive, and the re-run must land every row exactly
once (upsert by primary key).

The tap (tap-stackform-jsonl) writes a STATE after each file and every 10,000 records; the
test learns the exact sequence by running it alone on the same files first.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    alive,
    cmdline,
    copy_quickstart,
    duckdb_rows,
    find_descendant,
    step,
    wait_until,
    write_orders,
)

from tests.cli_helpers import Result

pytestmark = pytest.mark.slow

FILES = 3
ROWS_PER_FILE = 6000
BATCH = 700  # divides neither 10,000 nor the files: no batch ends where a STATE comes


def _normal(value: Any) -> Any:
    """A bookmark without the parts that change from run to run (the sync's start time)."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()
                if k not in ("replication_key_signpost", "starting_replication_value")}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def tap_states(stack: Path) -> list[tuple[int, Any]]:
    """Run the applied tap alone on the stack's files: (records before it, state) per STATE."""
    state = json.loads((stack / ".stackform" / "state" / "quickstart" / "dev.json").read_text())
    exe = state["resources"]["extractors.orders"]["outputs"]["executable"]
    plugin = stack / ".stackform" / "envs" / "quickstart" / "dev" / "extractors" / "orders"
    done = subprocess.run([exe, "--config", str(plugin / "config.json"),
                           "--catalog", str(plugin / "catalog.json")],
                          cwd=stack, capture_output=True, text=True, timeout=120, check=True)
    records, states = 0, []
    for line in done.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records += 1
        elif message["type"] == "STATE":
            states.append((records, _normal(message["value"])))
    return states


def make_stack(tmp_path: Path) -> tuple[Path, int]:
    stack = copy_quickstart(tmp_path / "stack", batch_size_rows=BATCH)
    first = time.time() - 3600
    written = 0
    for f in range(FILES):
        ids = range(f * ROWS_PER_FILE + 1, (f + 1) * ROWS_PER_FILE + 1)
        written += write_orders(stack / "data" / f"orders-{f:02d}.jsonl", ids, first + f * 60)
    return stack, written


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> Result:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"stackform run did not finish in {timeout}s:\n{out}\n{err}"
                             ) from None
    return Result(proc.returncode, out, err)


def test_target_killed_mid_run_keeps_its_last_bookmark(tmp_path: Path, stackform_for) -> None:
    stack, written = make_stack(tmp_path)
    sf = stackform_for(stack)
    warehouse = stack / "warehouse" / "dev.duckdb"
    sf.apply()
    reference = tap_states(stack)
    assert reference[-1][0] == written
    assert len(reference) >= 3, reference  # at least one STATE before the end of input

    bookmark = sf.bookmark_file("daily", "orders")
    proc = sf.start("run", "daily")
    try:
        tap = wait_until(lambda: find_descendant(proc.pid, "bin/tap-stackform-jsonl"), 60,
                         "the tap", proc)
        target = wait_until(lambda: find_descendant(proc.pid, "bin/target-stackform-duckdb"),
                            60, "the target", proc)
        wait_until(bookmark.exists, 120, "the first bookmark", proc, interval=0.002)
        # Freeze the target at once, let stackform read what it already printed, then kill it.
        os.kill(target, signal.SIGSTOP)
        time.sleep(0.5)
        assert alive(tap), "the tap finished before the target was killed: use more rows"
        os.kill(target, signal.SIGKILL)
        result = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert result.code == 1, result
    assert "target exited -9" in result.stderr, result
    assert "last lines of the log:" in result.stderr, result
    run = sf.last_run("daily")
    assert run["status"] == "failed", run
    assert "target exited -9" in run["error"], run
    assert step(run)["status"] == "failed" and step(run)["bookmark_moved"] is True, run
    for pid, name in ((tap, "tap-stackform-jsonl"), (target, "target-stackform-duckdb")):
        assert not (alive(pid) and name in cmdline(pid)), f"{name} ({pid}) left running"
    assert sf.leftover_runtime_dirs() == []

    # The saved bookmark is a STATE the target printed after committing: its rows are in, and
    # the target had not committed up to the next STATE (or it would have printed that one).
    saved = _normal(json.loads(bookmark.read_text())["value"])
    positions = [i for i, (_, value) in enumerate(reference) if value == saved]
    assert positions, f"saved bookmark is none of the tap's states: {saved}"
    at = positions[0]
    covered = reference[at][0]
    following = reference[at + 1][0] if at + 1 < len(reference) else written
    committed = duckdb_rows(warehouse, "select count(*) from raw.orders")[0][0]
    assert at < len(reference) - 1, "the whole run was committed before the kill"
    assert covered <= committed <= following, (covered, committed, following)
    assert step(run)["details"]["states"] == at + 1, run

    again = sf.ok("run", "daily")
    assert "from the last bookmark" in again.stderr, again
    assert duckdb_rows(warehouse, "select count(*), count(distinct id), min(id), max(id) "
                       "from raw.orders") == [(written, written, 1, written)], again
    assert sf.last_run("daily")["status"] == "success"
    assert sf.leftover_runtime_dirs() == []


def test_tap_failure_fails_the_run_with_the_taps_message(tmp_path: Path, stackform_for) -> None:
    stack = copy_quickstart(tmp_path / "stack", batch_size_rows=BATCH)
    write_orders(stack / "data" / "orders-00.jsonl", range(1, 501), time.time() - 60)
    sf = stackform_for(stack)
    sf.apply()
    # A line that is not JSON: the tap stops there with its own message.
    with (stack / "data" / "orders-00.jsonl").open("a") as f:
        f.write("{not json\n")

    result = sf("run", "daily")
    assert result.code == 1, result
    assert "tap exited 1" in result.stderr, result
    assert "orders-00.jsonl:501" in result.stderr, result  # the tap's own message: file:line
    assert "last lines of the log:" in result.stderr, result
    assert "Traceback" not in result.stderr, result
    run = sf.last_run("daily")
    assert run["status"] == "failed" and "tap exited 1" in run["error"], run
    # The 500 good rows before the bad line were committed and confirmed.
    assert duckdb_rows(stack / "warehouse" / "dev.duckdb", "select count(*) from raw.orders"
                       ) == [(500,)]
    assert sf.leftover_runtime_dirs() == []
