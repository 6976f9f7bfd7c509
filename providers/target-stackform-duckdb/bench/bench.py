"""Time target-stackform-duckdb (and optionally another DuckDB target) on one Singer stream.

    python bench/bench.py [--records 200000] [--other /path/to/venv/bin/target-duckdb]

Writes a SCHEMA + N RECORDs + a STATE every 50,000 records, feeds the same file to each target
on stdin, and prints wall time, records/second and the rows that landed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb


def write_stream(path: Path, n: int) -> None:
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
    with path.open("w") as fh:
        fh.write(json.dumps(schema) + "\n")
        for i in range(1, n + 1):
            record = {
                "id": i,
                "name": f"user {i}",
                "amount": i * 1.5,
                "active": i % 2 == 0,
                "created_at": "2024-01-01T00:00:00Z",
            }
            fh.write(json.dumps({"type": "RECORD", "stream": "events", "record": record}) + "\n")
            if i % 50_000 == 0:
                fh.write(json.dumps({"type": "STATE", "value": {"id": i}}) + "\n")


def run(label: str, exe: str, work: Path, stream: Path, n: int) -> None:
    db = work / f"{label}.duckdb"
    cfg = work / f"{label}.json"
    cfg.write_text(json.dumps({"path": str(db), "default_target_schema": "raw"}))
    with stream.open("rb") as stdin:
        started = time.perf_counter()
        proc = subprocess.run([exe, "--config", str(cfg)], stdin=stdin, capture_output=True)
        elapsed = time.perf_counter() - started
    states = len(proc.stdout.splitlines())
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT count(*) FROM raw.events").fetchone()[0]  # type: ignore[index]
    con.close()
    print(
        f"{label:24s} rc={proc.returncode} {elapsed:6.2f} s {n / elapsed:9,.0f} rec/s "
        f"rows landed {rows:,} of {n:,} ({n - rows} missing), STATE lines {states}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--ours", default=shutil.which("target-stackform-duckdb"))
    ap.add_argument("--other", help="another target executable, e.g. target-duckdb 0.8.0")
    args = ap.parse_args()
    if not args.ours:
        sys.exit("target-stackform-duckdb not found; pass --ours")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        stream = work / "stream.jsonl"
        write_stream(stream, args.records)
        run("target-stackform-duckdb", args.ours, work, stream, args.records)
        if args.other:
            run(Path(args.other).name, args.other, work, stream, args.records)


if __name__ == "__main__":
    main()
