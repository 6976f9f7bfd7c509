"""tap-stackform-jsonl against the floor: reading the same lines and printing them, in Python.

Writes one JSONL file of RECORDS records (5 columns) and runs, in rotating order each round,
with stdout to a pipe that is drained (as a target would):

- ``tap-stackform-jsonl`` (this repository's, installed in a temp venv with uv the way
  stackform installs plugins), with the catalog of its own discovery, so the run does no
  discovery;
- the floor: a Python process that reads the file line by line and writes each line to stdout
  (no parsing, no Singer envelope), the least any Python tap must do;
- ``cat``, for scale (no Python at all).

Prints the median wall time, records/s and the tap's throughput as a fraction of the floor's
(issue 20 asks for at least 0.5).

Usage: python benchmarks/tap_jsonl.py [--records 200000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import install_tool, sample_record

REPO = Path(__file__).resolve().parent.parent
TAP = REPO / "providers" / "tap-stackform-jsonl"

FLOOR = r"""
import sys
out = sys.stdout.buffer
with open(sys.argv[1], "rb") as fh:
    for line in fh:
        out.write(line)
"""


def write_records(path: Path, n: int) -> None:
    with path.open("w") as fh:
        for i in range(1, n + 1):
            record = sample_record(i)
            fh.write(json.dumps(record) + "\n")


def timed(cmd: list[str], marker: bytes) -> tuple[float, int]:
    """Wall seconds and how many times ``marker`` came out (a chunk boundary can split one
    only if chunks are smaller than a line; they are 1 MiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    lines, tail = 0, b""
    for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
        joined = tail + chunk
        cut = joined.rfind(b"\n") + 1
        lines += joined[:cut].count(marker)
        tail = joined[cut:]
    if proc.wait() != 0:
        raise SystemExit(f"{cmd[0]} exited {proc.returncode}")
    return time.perf_counter() - started, lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    n = args.records
    with tempfile.TemporaryDirectory(prefix="sf-bench-tap-") as tmp:
        work = Path(tmp)
        data = work / "records.jsonl"
        write_records(data, n)
        tap = install_tool(work / "tap", str(TAP), "tap-stackform-jsonl")
        python = str(work / "tap" / "bin" / "python")  # the same interpreter as the tap's
        cfg = work / "config.json"
        cfg.write_text(json.dumps({"path": str(data), "stream_name": "events",
                                   "state_every_rows": 50_000}))
        catalog = work / "catalog.json"
        catalog.write_bytes(subprocess.run([tap, "--config", str(cfg), "--discover"],
                                           check=True, capture_output=True).stdout)
        contenders = {
            "tap-stackform-jsonl": [tap, "--config", str(cfg), "--catalog", str(catalog)],
            "python read+print (floor)": [python, "-c", FLOOR, str(data)],
            "cat": ["cat", str(data)],
        }
        results: dict[str, list[float]] = {k: [] for k in contenders}
        names = list(contenders)
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                marker = b'"type":"RECORD"' if name == "tap-stackform-jsonl" else b"\n"
                seconds, lines = timed(contenders[name], marker)
                if lines != n:
                    raise SystemExit(f"{name}: {lines} records out, expected {n}")
                results[name].append(seconds)
                print(f"round {r + 1} {name:<28}{seconds:7.2f} s", flush=True)
        floor = statistics.median(results["python read+print (floor)"])
        print(f"\n{n:,} records, {args.rounds} rounds, median wall time")
        print(f"{'contender':<28}{'median s':>9}{'records/s':>12}{'throughput vs floor':>21}")
        for name, times in results.items():
            med = statistics.median(times)
            print(f"{name:<28}{med:>9.2f}{n / med:>12,.0f}{floor / med:>20.2f}x")


if __name__ == "__main__":
    main()
