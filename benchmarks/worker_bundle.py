"""What running from a bundle costs a worker: time from the task's start to the first step of
the pipeline starting (the tap opening its first file: the first record follows within
milliseconds), and to the run's end, for

* ``stackform run`` in the stack's folder (the pipeline run alone, the baseline);
* ``stackform worker run`` (what the DAG's task runs) with a cold bundle cache: download from
  S3, check every file, unpack, copy for the run;
* the same with a warm cache (the bundle checked again, copied for the run).

The quickstart's orders (tap-jsonl into DuckDB, no dbt: its start-up would only add the same
seconds to every row), state in S3 on a real S3-compatible server on 127.0.0.1 (SeaweedFS, the
test suite's), plugins already installed (their install is measured elsewhere). Rounds are
paired (baseline, cold, warm, in turn) because the machine is shared: the ratios are the
figures to trust. ``--full-refresh`` makes every run move every record.

Usage: python benchmarks/worker_bundle.py [ROUNDS]   (default 3). Needs the test extra.
"""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import load_average, stackform_command

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from e2e_support import write_orders  # noqa: E402
from worker_support import dag_command, worker_stack  # noqa: E402

from tests.s3server import S3Server, running_s3_server  # noqa: E402

MARK = "orders-to-warehouse: starting"
ROWS = 2000


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds to the first step's start, seconds to the end)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    first = None
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if first is None and MARK in line:
            first = time.perf_counter() - start
    if proc.wait() != 0 or first is None:
        raise SystemExit(f"{shlex.join(cmd)} failed:\n{''.join(lines)[-3000:]}")
    return first, time.perf_counter() - start


def setup(root: Path, server: S3Server, sf: list[str], env: dict[str, str]) -> list[str]:
    stack = worker_stack(root, server, server.new_bucket(), "bench")
    write_orders(root / "source" / "orders-01.jsonl", range(1, ROWS + 1), time.time() - 60)
    subprocess.run([*sf, "apply", "--auto-approve"], cwd=stack, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    words = dag_command(next((root / "dags").glob("*.py")))
    return [*sf, *words[1:], "--full-refresh"]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    sf = stackform_command()
    root = Path(tempfile.mkdtemp(prefix="sf-bench-worker-"))
    try:
        with running_s3_server() as server:
            cache = root / "cache"
            env = {**os.environ, **server.env, "NO_COLOR": "1",
                   "STACKFORM_CACHE_DIR": str(cache)}
            worker = setup(root, server, sf, env)
            stack, empty = root / "quickstart", root / "worker"
            empty.mkdir()
            results: dict[str, list[tuple[float, float]]] = {"run": [], "cold": [], "warm": []}
            timed([*sf, "run", "daily"], stack, env)  # warm-up: catalog, page cache
            for _ in range(rounds):
                results["run"].append(timed([*sf, "run", "daily", "--full-refresh"], stack, env))
                shutil.rmtree(cache / "bundles", ignore_errors=True)
                results["cold"].append(timed(worker, empty, env))
                results["warm"].append(timed(worker, empty, env))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base_first = statistics.median(r[0] for r in results["run"])
    base_total = statistics.median(r[1] for r in results["run"])
    print(f"{ROWS} records, {rounds} paired rounds, load average {load_average()}")
    print(f"{'':28} {'to first step s':>15} {'ratio':>6} {'whole run s':>12} {'ratio':>6}")
    for name, label in (("run", "stackform run (checkout)"), ("cold", "worker run, cold cache"),
                        ("warm", "worker run, warm cache")):
        first = statistics.median(r[0] for r in results[name])
        total = statistics.median(r[1] for r in results[name])
        print(f"{label:28} {first:15.2f} {first / base_first:6.2f} {total:12.2f} "
              f"{total / base_total:6.2f}")


if __name__ == "__main__":
    main()
