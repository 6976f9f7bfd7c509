"""Mappers and pipelines of several chains, through the real ``stackform``: tap-stackform-jsonl
through meltano-map-transform (the Meltano SDK's stream-maps mapper, from the package index) into
target-stackform-duckdb, as ``tap | mapper | target`` OS pipes.

A mapper that fails fails the run and moves no bookmark; two chains in one pipeline keep one
bookmark each; ``bookmark = "shared"`` lets two pipelines resume from the same one.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_support import (
    Stackform,
    alive,
    cmdline,
    duckdb_rows,
    find_descendant,
    wait_until,
)

pytestmark = pytest.mark.slow

MAPPER = 'pip_url = "meltano-map-transform==0.12.3"'


def stack(directory: Path, mapper: str, pipelines: str) -> Path:
    """Orders and customers as JSONL, read by two extractors, one mapper block ``mapper``
    (its ``config``), two DuckDB loaders; ``pipelines`` as given."""
    (directory / "data").mkdir(parents=True, exist_ok=True)
    orders = [{"id": i, "customer": f"c{i % 2}", "amount": i * 10, "ssn": "078-05-1120"}
              for i in range(1, 6)]
    (directory / "data" / "orders-1.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in orders))
    (directory / "data" / "customers-1.jsonl").write_text(
        "".join(json.dumps({"id": f"c{i}", "name": f"n{i}"}) + "\n" for i in range(2)))
    (directory / "stack.toml").write_text(f"""\
[stack]
name = "mapped"

[extractors.jsonl-base]
abstract = true
pip_url = "stackform:tap-jsonl"

[extractors.orders]
extends = "extractors.jsonl-base"
config = {{ path = "data/orders-*.jsonl", stream_name = "orders", primary_keys = ["id"] }}

[extractors.customers]
extends = "jsonl-base"
config = {{ path = "data/customers-*.jsonl", stream_name = "customers", primary_keys = ["id"] }}

[mappers.scrub]
{MAPPER}
{mapper}

[loaders.warehouse]
pip_url = "stackform:target-duckdb"
config = {{ path = "warehouse.duckdb", default_target_schema = "raw" }}

[loaders.archive]
pip_url = "stackform:target-duckdb"
config = {{ path = "archive.duckdb", default_target_schema = "raw" }}

{pipelines}
""")
    return directory


SCRUB = """\
[mappers.scrub.config.stream_maps.orders]
ssn = "__NULL__"
amount_cents = "amount * 100"
__filter__ = "amount > 10"
"""


def test_a_mapper_between_tap_and_target_and_two_chains_in_one_pipeline(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    d = stack(tmp_path / "s", SCRUB, """\
[pipelines.daily]
steps = ["orders", "scrub", "warehouse", "customers", "warehouse", "orders", "archive"]
""")
    sf = stackform_for(d)
    applied = sf.apply()
    assert re.search(r"mappers.scrub +create +done", applied.stdout), applied
    # The plan shows each extractor resolved through extends; the base is no resource.
    assert re.search(r'\+ extractors.orders\n(.*\n)*? +\+ pip_url += "stackform:tap-jsonl"',
                     applied.stdout), applied
    assert "jsonl-base" not in applied.stdout
    assert "lineage incomplete" not in applied.stdout, applied
    ran = sf.ok("run", "daily")
    assert "orders-to-warehouse: success" in ran.stderr, ran
    rows = duckdb_rows(d / "warehouse.duckdb",
                       "select id, amount_cents::int from raw.orders order by id")
    assert rows == [(2, 2000), (3, 3000), (4, 4000), (5, 5000)]
    assert "ssn" not in [c for (c,) in duckdb_rows(
        d / "warehouse.duckdb", "select column_name from information_schema.columns "
        "where table_name = 'orders'")]
    assert duckdb_rows(d / "warehouse.duckdb", "select count(*) from raw.customers") == [(2,)]
    # The same tap without the mapper into the other loader: every row, ssn included.
    assert duckdb_rows(d / "archive.duckdb", "select count(*), count(ssn) from raw.orders") \
        == [(5, 5)]
    record = sf.last_run("daily")
    keys = [s["details"]["bookmark_key"] for s in record["steps"]]
    assert keys == ["daily.orders-to-warehouse", "daily.customers",
                    "daily.orders-to-archive"], keys
    log = Path(record["log"]).read_text()
    assert "| " in log and "meltano-map-transform" in log and "[mapper scrub]" in log, log


def test_a_failing_mapper_fails_the_run_and_moves_no_bookmark(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    d = stack(tmp_path / "bad", "[mappers.scrub.config.stream_maps.orders]\n"
              'amount = "no_such_name + 1"\n', '[pipelines.daily]\n'
              'steps = ["orders", "scrub", "warehouse"]\n')
    sf = stackform_for(d)
    sf.apply()
    ran = sf("run", "daily")
    assert ran.code == 1, ran
    record = sf.last_run("daily")
    assert record["status"] == "failed", record
    assert "mapper scrub exited" in record["error"], record["error"]
    assert json.loads(sf.ok("bookmarks", "show", "--format", "json").stdout) == []
    assert "no_such_name" in Path(record["log"]).read_text()


def test_shared_bookmark_between_two_pipelines(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    d = stack(tmp_path / "shared", SCRUB, """\
[pipelines.hourly]
steps = ["orders", "warehouse"]
bookmark = "shared"

[pipelines.backfill]
steps = ["orders", "warehouse"]
bookmark = "shared"
""")
    sf = stackform_for(d)
    sf.apply()
    sf.ok("run", "hourly")
    first = sf.last_run("hourly")["steps"][0]
    assert first["details"]["bookmark_key"] == "shared.orders-to-warehouse"
    assert first["records_emitted"] == 5
    # The other pipeline resumes where the first left off: nothing new to extract.
    sf.ok("run", "backfill")
    second = sf.last_run("backfill")["steps"][0]
    assert second["details"]["bookmark_key"] == "shared.orders-to-warehouse"
    assert second["records_emitted"] == 0, second


def test_kill_9_of_a_run_kills_the_mapper_with_the_tap_and_target(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    d = stack(tmp_path / "killed", SCRUB, '[pipelines.daily]\n'
              'steps = ["orders", "scrub", "warehouse"]\n')
    (d / "data" / "orders-2.jsonl").write_text("".join(
        json.dumps({"id": i, "customer": "c", "amount": i, "ssn": "x"}) + "\n"
        for i in range(10, 300_000)))
    sf = stackform_for(d)
    sf.apply()
    proc = sf.start("run", "daily")
    try:
        plugins = [wait_until(lambda n=needle: find_descendant(proc.pid, n), 120, needle, proc)
                   for needle in ("bin/tap-stackform-jsonl", "bin/meltano-map-transform",
                                  "bin/target-stackform-duckdb")]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        for pid in plugins:
            wait_until(lambda p=pid: not alive(p), 30, f"{cmdline(pid)} to die")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
