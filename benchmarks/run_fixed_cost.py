"""The fixed cost of one ``stackform run``: a tiny pipeline, timed many times.

A temp stack reads RECORDS JSONL records with this repository's ``tap-stackform-jsonl`` into
``target-stackform-duckdb`` (both installed from the checkout: no network once uv has its build
backend cached), with one ``${secret.NAME}`` in the loader's config so secret redaction is
exercised too. It is applied once (untimed), then ``stackform run load --full-refresh`` is timed
ROUNDS times (wall time, and CPU time of stackform and its plugins). With so few records nearly
all of a run is fixed cost: start-up, resolving the stack, the run lock and record, starting the
two plugins and their runtime folder, counting the rows landed.

With ``--baseline-src DIR`` (a checkout of another commit, e.g. ``git archive REV | tar -x -C
DIR``) every round also runs that code on the same stack (``PYTHONPATH=DIR:DIR/providers``), in
alternating order, and the difference of the medians is printed: a paired measurement, which
other jobs on the machine disturb far less than two separate ones.

Usage: python benchmarks/run_fixed_cost.py [--records 10] [--rounds 15] [--baseline-src DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import stackform_command

REPO = Path(__file__).resolve().parent.parent
TAP = REPO / "providers" / "tap-stackform-jsonl"
LOADER = REPO / "providers" / "target-stackform-duckdb"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--baseline-src", type=Path)
    args = ap.parse_args()
    sf = stackform_command()
    tmp = Path(tempfile.mkdtemp(prefix="sf-bench-fixed-"))
    stack = tmp / "stack"
    (stack / "data").mkdir(parents=True)
    with (stack / "data" / "events.jsonl").open("w") as f:
        for i in range(args.records):
            f.write(json.dumps({"id": i, "name": f"user {i}"}) + "\n")
    (stack / "stack.toml").write_text(f"""[stack]
name = "bench-fixed"

[extractors.events]
pip_url = "{TAP}"
config = {{ path = "data/events.jsonl", stream_name = "events", primary_keys = ["id"] }}

[loaders.warehouse]
pip_url = "{LOADER}"

[loaders.warehouse.config]
path = "warehouse.duckdb"
add_record_metadata = true
note = "${{secret.bench_note}}"

[pipelines.load]
steps = ["events", "warehouse"]
""")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"NO_COLOR": "1", "STACKFORM_SECRET_BENCH_NOTE": "not-really-a-secret"})
    try:
        subprocess.run([*sf, "apply", "--auto-approve"], cwd=stack, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        contenders = {"this checkout": env}
        if args.baseline_src:
            base = args.baseline_src.resolve()
            contenders = {"baseline": {**env, "PYTHONPATH": f"{base}:{base / 'providers'}"},
                          **contenders}
        walls: dict[str, list[float]] = {name: [] for name in contenders}
        cpus: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                proc = subprocess.run([*sf, "run", "load", "--full-refresh"], cwd=stack,
                                      env=contenders[name], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True)
                walls[name].append(time.perf_counter() - started)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus[name].append(after.ru_utime - before.ru_utime
                                  + after.ru_stime - before.ru_stime)
                if proc.returncode != 0:
                    raise SystemExit(f"{name}: {proc.stderr[-2000:]}")
        for name in names:
            print(f"{name:<14} {args.records} records, {args.rounds} runs: wall median "
                  f"{statistics.median(walls[name]) * 1000:.0f} ms "
                  f"(min {min(walls[name]) * 1000:.0f}), CPU median "
                  f"{statistics.median(cpus[name]) * 1000:.0f} ms")
        if len(names) == 2:
            wall = [(b - a) * 1000 for a, b in zip(*walls.values(), strict=True)]
            cpu = [(b - a) * 1000 for a, b in zip(*cpus.values(), strict=True)]
            print(f"this checkout - baseline, median of the paired differences: wall "
                  f"{statistics.median(wall):+.0f} ms, CPU {statistics.median(cpu):+.0f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
