"""target-stackform-duckdb against target-duckdb 0.8.0 on the same Singer message stream.

Writes one stream file: a SCHEMA, RECORDS records (5 columns) and a STATE every 50,000 records,
and feeds it on stdin to each target, each installed in its own temp venv with uv (the way
stackform installs loaders): this repository's ``providers/target-stackform-duckdb`` and
``target-duckdb==0.8.0``, the only DuckDB loader on the package index. Rounds alternate the
order; each run starts from a new database file. Prints wall time, records/s, rows landed and
STATE lines echoed, with the ratio against target-duckdb (the baseline), and the floor: DuckDB
itself reading the same records from a JSONL file into a table (``read_json``, in process).

Usage: python benchmarks/target_duckdb.py [--records 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import install_tool, sample_record

REPO = Path(__file__).resolve().parent.parent
OURS = REPO / "providers" / "target-stackform-duckdb"
OTHER = "target-duckdb==0.8.0"


def write_stream(path: Path, bare: Path, n: int) -> None:
    """The Singer stream, and the bare records as JSONL (for the DuckDB floor)."""
    schema = {
        "type": "SCHEMA",
        "stream": "events",
        "key_properties": ["id"],
        "schema": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": ["null", "string"]},
                "amount": {"type": ["null", "number"]},
                "active": {"type": ["null", "boolean"]},
                "created_at": {"type": ["null", "string"], "format": "date-time"},
            },
        },
    }
    with path.open("w") as fh, bare.open("w") as raw:
        fh.write(json.dumps(schema) + "\n")
        for i in range(1, n + 1):
            record = sample_record(i)
            raw.write(json.dumps(record) + "\n")
            fh.write(json.dumps({"type": "RECORD", "stream": "events", "record": record}) + "\n")
            if i % 50_000 == 0:
                fh.write(json.dumps({"type": "STATE", "value": {"id": i}}) + "\n")


def rows_in(db: Path) -> int:
    import duckdb  # the dev venv's duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM raw.events").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def run_target(exe: str, work: Path, label: str, stream: Path) -> tuple[float, int, int]:
    db = work / f"{label}.duckdb"
    db.unlink(missing_ok=True)
    Path(f"{db}.wal").unlink(missing_ok=True)
    cfg = work / f"{label}.json"
    cfg.write_text(json.dumps({"path": str(db), "default_target_schema": "raw"}))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
    with stream.open("rb") as stdin:
        started = time.perf_counter()
        proc = subprocess.run([exe, "--config", str(cfg)], stdin=stdin, capture_output=True,
                              env=env)
        elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{label} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    return elapsed, rows_in(db), len(proc.stdout.splitlines())


FLOOR = r"""
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create schema raw")
con.execute("create table raw.events (id bigint primary key, name varchar, amount double, "
            "active boolean, created_at timestamptz)")
con.execute("insert into raw.events select * from read_json(?, columns = {id: 'BIGINT', "
            "name: 'VARCHAR', amount: 'DOUBLE', active: 'BOOLEAN', created_at: 'TIMESTAMPTZ'})",
            [sys.argv[2]])
"""


def run_floor(python: str, work: Path, bare: Path) -> tuple[float, int, int]:
    db = work / "floor.duckdb"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run([python, "-c", FLOOR, str(db), str(bare)], check=True)
    return time.perf_counter() - started, rows_in(db), 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.records
    with tempfile.TemporaryDirectory(prefix="sf-bench-duckdb-") as tmp:
        work = Path(tmp)
        stream, bare = work / "stream.jsonl", work / "records.jsonl"
        write_stream(stream, bare, n)
        ours = install_tool(work / "ours", str(OURS), "target-stackform-duckdb")
        other = install_tool(work / "other", OTHER, "target-duckdb")
        floor_python = str(work / "ours" / "bin" / "python")  # the same duckdb as ours
        contenders = {
            "target-duckdb 0.8.0": lambda: run_target(other, work, "other", stream),
            "target-stackform-duckdb": lambda: run_target(ours, work, "ours", stream),
            "duckdb read_json (floor)": lambda: run_floor(floor_python, work, bare),
        }
        results: dict[str, list[tuple[float, int, int]]] = {k: [] for k in contenders}
        names = list(contenders)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                results[name].append(contenders[name]())
                s, rows, states = results[name][-1]
                print(f"round {r + 1} {name:<26}{s:7.2f} s  rows {rows:,}  STATE lines {states}",
                      flush=True)
        base = statistics.median(t for t, _, _ in results["target-duckdb 0.8.0"])
        print(f"\n{n:,} records, {args.rounds} rounds, median wall time")
        print(f"{'loader':<26}{'median s':>9}{'records/s':>11}{'rows landed':>13}{'missing':>9}"
              f"{'STATE out':>10}{'vs target-duckdb':>18}")
        for name, runs in results.items():
            med = statistics.median(t for t, _, _ in runs)
            rows = min(r for _, r, _ in runs)
            states = runs[-1][2]
            state_col = "-" if name.endswith("(floor)") else str(states)
            print(f"{name:<26}{med:>9.2f}{n / med:>11,.0f}{rows:>13,}{n - rows:>9,}"
                  f"{state_col:>10}{med / base:>17.2f}x")


if __name__ == "__main__":
    main()
