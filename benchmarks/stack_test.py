"""``stackform test`` on ``examples/quickstart`` (JSONL -> DuckDB -> dbt-duckdb): its wall and
CPU time, its breakdown (apply, runs, dbt, checks, destroy, as the command reports them), and
the ratio to the same steps run by hand in the same round:

    stackform apply --env dev --auto-approve
    stackform run daily --env dev --full-refresh      (extract, load, dbt build)
    stackform env destroy dev --yes

The stack is copied to a temp folder with ``--orders`` orders; one apply first fills the plugin
cache, so every measured round installs nothing. Rounds alternate the two (paired), and the
machine's load is printed: on a shared machine, CPU time is the steadier figure.

Usage: python benchmarks/stack_test.py [--rounds 2] [--orders 2000] [--sample N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import load_average, stackform_command

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = REPO / "examples" / "quickstart"
PHASES = ("apply", "runs", "dbt", "checks", "destroy")


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of it and its children, stderr); fails on a non-zero exit."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err.seek(0)
        text = err.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{text[-3000:]}")
    # ru_* of wait4 cover the process only: children's time is read from the process table.
    return wall, usage.ru_utime + usage.ru_stime, text


def children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def make_stack(dest: Path, orders: int) -> Path:
    shutil.copytree(QUICKSTART, dest, ignore=shutil.ignore_patterns(
        ".stackform", "out", "warehouse", "data", "target", "logs", "stackform.lock"))
    (dest / "data").mkdir()
    with (dest / "data" / "orders-01.jsonl").open("w") as f:
        for i in range(1, orders + 1):
            f.write(json.dumps({"id": i, "customer": f"customer-{i % 97}",
                                "amount": round(i * 1.25 % 500, 2),
                                "status": ("placed", "shipped", "delivered")[i % 3],
                                "ordered_at": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
                                "internal_note": "x"}) + "\n")
    return dest


def phases_of(stderr: str) -> dict[str, float]:
    line = next((x for x in stderr.splitlines() if x.startswith("time: ")), "")
    return {name: float(value) for name, value in re.findall(r"(\w+) ([\d.]+)s", line)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=None)
    args = parser.parse_args()
    sf = stackform_command()
    with tempfile.TemporaryDirectory(prefix="stackform-bench-") as tmp:
        stack = make_stack(Path(tmp) / "quickstart", args.orders)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update({"NO_COLOR": "1", "STACKFORM_CACHE_DIR": str(Path(tmp) / "cache"),
                    "STACKFORM_DEVELOPER": "bench"})
        env.pop("CI", None)
        print(f"warming the plugin cache (load {load_average()})...", flush=True)
        run([*sf, "apply", "--auto-approve"], stack, env)
        run([*sf, "env", "destroy", "dev", "--yes"], stack, env)
        tested: list[tuple[float, float]] = []
        by_hand: list[tuple[float, float]] = []
        phases: list[dict[str, float]] = []
        sample = ["--sample", str(args.sample)] if args.sample else []
        for i in range(args.rounds):
            before = children_cpu()
            wall, _, err = run([*sf, "test", "--env", f"bench-{i}", *sample], stack, env)
            tested.append((wall, children_cpu() - before))
            phases.append(phases_of(err))
            before, wall = children_cpu(), 0.0
            for cmd in (["apply", "--env", "dev", "--auto-approve"],
                        ["run", "daily", "--env", "dev", "--full-refresh"],
                        ["env", "destroy", "dev", "--yes"]):
                wall += run([*sf, *cmd], stack, env)[0]
            (stack / "warehouse" / "dev.duckdb").unlink(missing_ok=True)
            by_hand.append((wall, children_cpu() - before))
            print(f"round {i + 1}: stackform test {tested[-1][0]:.1f}s wall "
                  f"{tested[-1][1]:.1f}s CPU; by hand {by_hand[-1][0]:.1f}s wall "
                  f"{by_hand[-1][1]:.1f}s CPU (load {load_average()})", flush=True)
    med = statistics.median
    print(f"\nstackform test on the quickstart ({args.orders} orders"
          f"{f', --sample {args.sample}' if args.sample else ''}), median of {args.rounds}:")
    for name in PHASES:
        values = [p[name] for p in phases if name in p]
        if values:
            note = " (part of runs)" if name == "dbt" else ""
            print(f"  {name:8s} {med(values):6.1f} s{note}")
    test_wall, hand_wall = med(t[0] for t in tested), med(h[0] for h in by_hand)
    test_cpu, hand_cpu = med(t[1] for t in tested), med(h[1] for h in by_hand)
    print(f"  total    {test_wall:6.1f} s wall, {test_cpu:.1f} s CPU")
    print(f"by hand (apply + run + env destroy): {hand_wall:.1f} s wall, {hand_cpu:.1f} s CPU")
    print(f"ratio stackform test / by hand: {test_wall / hand_wall:.2f} wall, "
          f"{test_cpu / hand_cpu:.2f} CPU")


if __name__ == "__main__":
    main()
