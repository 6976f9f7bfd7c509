"""``stackform run`` against the same tap piped into the same target in a shell, and Meltano.

A temp stack reads RECORDS small JSONL records (5 columns, several files) with
``tap-jsonl==0.3.1`` into ``target-stackform-duckdb`` (this repository's loader). It is applied
once (untimed), then each round times, in an order that rotates every round:

- **raw pipe** (the baseline): ``bash -c 'TAP --config --catalog | TARGET --config > /dev/null'``
  with the very executables, selected catalog and configs stackform uses;
- **stackform**: ``stackform run load --full-refresh``;
- **meltano**: ``meltano run --full-refresh tap-jsonl target-stackform-duckdb`` (Meltano 4.4.1
  in its own venv, plugins declared by ``pip_url``, given the same catalog, so no contender
  runs discovery during a run).

The DuckDB file is deleted before every measured run so all do the same work, and each run
must land exactly RECORDS rows. Every contender's stderr goes to a log file.

With ``--before-src DIR`` (a checkout of another commit: ``git archive REV | tar -x -C DIR``)
each round also runs ``stackform run`` with that code (``PYTHONPATH=DIR:DIR/providers``).
Besides the medians, the script prints the median of the paired differences with the raw pipe
(each round's stackform run minus the same round's pipe): the fixed cost of a run.

Usage: python benchmarks/run_pipe.py [--records 200000] [--rounds 3] [--no-meltano]
       [--before-src DIR]
Targets: stackform within 5% of the raw pipe (issue 3); a fixed cost of at most 0.2 s on a
1,000-record run, median of 10 paired rounds (issue 20).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import stackform_command

REPO = Path(__file__).resolve().parent.parent
LOADER = REPO / "providers" / "target-stackform-duckdb"
TAP = "tap-jsonl==0.3.1"
MELTANO = "meltano==4.4.1"
FILES = 4


def write_data(folder: Path, records: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    per_file = -(-records // FILES)
    n = 0
    for f in range(FILES):
        with (folder / f"events-{f}.jsonl").open("w") as fh:
            for _ in range(min(per_file, records - n)):
                n += 1
                fh.write(json.dumps({"id": n, "name": f"user {n}", "amount": n * 1.5,
                                     "active": n % 2 == 0,
                                     "created_at": "2024-01-01T00:00:00Z"}) + "\n")


def tap_config(d: Path) -> dict[str, object]:
    return {"path": str(d / "data" / "*.jsonl"), "stream_name": "events", "primary_keys": ["id"]}


def target_config(d: Path) -> dict[str, object]:
    return {"path": str(d / "warehouse.duckdb"), "default_target_schema": "raw",
            "add_record_metadata": True}


def write_stack(d: Path) -> None:
    def toml_inline(cfg: dict[str, object]) -> str:
        return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in cfg.items()) + " }"

    (d / "stack.toml").write_text(f"""[stack]
name = "bench-pipe"

[extractors.events]
pip_url = "{TAP}"
config = {toml_inline(tap_config(d))}
select = ["events.*"]

[loaders.warehouse]
pip_url = "{LOADER}"
config = {toml_inline(target_config(d))}

[pipelines.load]
steps = ["events", "warehouse"]
""")


def write_meltano_project(m: Path, d: Path, catalog: Path) -> None:
    def settings(cfg: dict[str, object]) -> list[dict[str, str]]:
        kinds = {list: "array", bool: "boolean"}
        return [{"name": k, "kind": kinds.get(type(v), "string")} for k, v in cfg.items()]

    project = {
        "version": 1,
        "default_environment": "dev",
        "project_id": "stackform-bench",
        "send_anonymous_usage_stats": False,
        "environments": [{"name": "dev"}],
        "plugins": {
            "extractors": [{
                "name": "tap-jsonl", "namespace": "tap_jsonl", "pip_url": TAP,
                "executable": "tap-jsonl", "capabilities": ["catalog", "discover", "state"],
                "settings": settings(tap_config(d)), "config": tap_config(d),
                "select": ["events.*"], "catalog": str(catalog),
            }],
            "loaders": [{
                "name": "target-stackform-duckdb", "namespace": "target_stackform_duckdb",
                "pip_url": str(LOADER), "executable": "target-stackform-duckdb",
                "settings": settings(target_config(d)), "config": target_config(d),
            }],
        },
    }
    m.mkdir(parents=True, exist_ok=True)
    # JSON is YAML: no YAML library needed here.
    (m / "meltano.yml").write_text(json.dumps(project, indent=2))


def bench_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV")}
    env["NO_COLOR"] = "1"
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["MELTANO_DISABLE_TRACKING"] = "true"
    return env


def run_logged(cmd: list[str], cwd: Path, log: Path, env: dict[str, str]) -> float:
    return run_measured(cmd, cwd, log, env)[0]


def run_measured(cmd: list[str], cwd: Path, log: Path, env: dict[str, str]
                 ) -> tuple[float, float]:
    """Wall seconds, and CPU seconds (user + system) of the command and all its processes."""
    with log.open("ab") as err:
        err.write(f"\n### {shlex.join(cmd)}\n".encode())
        err.flush()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{shlex.join(cmd)} exited {proc.returncode}:\n{tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def rows_in(db: Path) -> int:
    import duckdb  # the dev venv's duckdb, not any contender's

    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute("select count(*) from raw.events").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def setup_meltano(m: Path, d: Path, catalog: Path, log: Path, env: dict[str, str]) -> list[str]:
    """Meltano 4.4.1 in its own venv and its plugins installed; the command to run."""
    venv = m / "meltano-venv"
    subprocess.run(["uv", "venv", "-q", "-p", "3.11", str(venv)], check=True, env=env)
    subprocess.run(["uv", "pip", "install", "-q", "-p", str(venv / "bin" / "python"), MELTANO],
                   check=True, env=env)
    meltano = str(venv / "bin" / "meltano")
    write_meltano_project(m, d, catalog)
    started = time.perf_counter()
    run_logged([meltano, "install"], m, log, env)
    print(f"meltano install (untimed for the comparison): {time.perf_counter() - started:.1f} s")
    return [meltano, "run", "--full-refresh", "tap-jsonl", "target-stackform-duckdb"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-meltano", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder")
    ap.add_argument("--before-src", type=Path)
    args = ap.parse_args()
    sf = stackform_command()
    env = bench_env()
    tmp = tempfile.mkdtemp(prefix="sf-bench-pipe-")
    d = Path(tmp) / "stack"
    d.mkdir()
    log = Path(tmp) / "stderr.log"
    try:
        write_data(d / "data", args.records)
        write_stack(d)
        started = time.perf_counter()
        run_logged([*sf, "apply", "--auto-approve"], d, log, env)
        print(f"stackform apply (untimed for the comparison): "
              f"{time.perf_counter() - started:.1f} s")
        state = json.loads((d / ".stackform/state/bench-pipe/dev.json").read_text())
        outputs = {r.get("address"): r.get("outputs", {}) for r in _resources(state)}
        tap_exe = outputs["extractors.events"]["executable"]
        target_exe = outputs["loaders.warehouse"]["executable"]
        work = d / ".stackform/envs/bench-pipe/dev"
        catalog = work / "extractors/events/catalog.json"
        # The configs stackform writes for a run (it has no secrets here, so the same JSON).
        (Path(tmp) / "tap.json").write_text(json.dumps(tap_config(d)))
        (Path(tmp) / "target.json").write_text(json.dumps(target_config(d)))
        pipe = (f"{shlex.quote(tap_exe)} --config {Path(tmp) / 'tap.json'} --catalog "
                f"{shlex.quote(str(catalog))} | {shlex.quote(target_exe)} --config "
                f"{Path(tmp) / 'target.json'} > /dev/null")
        contenders: dict[str, tuple[list[str], Path]] = {
            "raw pipe": (["bash", "-c", pipe], d),
            "stackform run": ([*sf, "run", "load", "--full-refresh"], d),
        }
        envs = {name: env for name in contenders}
        if args.before_src:
            src = args.before_src.resolve()
            contenders["sf run before"] = ([*sf, "run", "load", "--full-refresh"], d)
            envs["sf run before"] = {**env, "PYTHONPATH": f"{src}:{src / 'providers'}"}
        if not args.no_meltano:
            m = Path(tmp) / "meltano"
            try:
                contenders["meltano run"] = (setup_meltano(m, d, catalog, log, env), m)
                envs["meltano run"] = env
            except (SystemExit, subprocess.CalledProcessError) as exc:
                print(f"meltano: not measured: {exc}")
        db = d / "warehouse.duckdb"
        times: dict[str, list[float]] = {name: [] for name in contenders}
        cpus: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                db.unlink(missing_ok=True)
                Path(str(db) + ".wal").unlink(missing_ok=True)
                cmd, cwd = contenders[name]
                seconds, cpu = run_measured(cmd, cwd, log, envs[name])
                rows = rows_in(db)
                if rows != args.records:
                    raise SystemExit(f"{name}: {rows:,} rows landed, expected {args.records:,}")
                times[name].append(seconds)
                cpus[name].append(cpu)
                print(f"round {r + 1} {name:<14}{seconds:7.2f} s wall {cpu:7.2f} s CPU  "
                      f"rows {rows:,}", flush=True)
        base = statistics.median(times["raw pipe"])
        base_cpu = statistics.median(cpus["raw pipe"])
        print(f"\n{args.records:,} records, {args.rounds} rounds; wall time, and CPU time "
              "(user + system, all processes)")
        print(f"{'contender':<16}{'median s':>9}{'min s':>8}{'max s':>8}{'vs raw pipe':>13}"
              f"{'CPU s':>8}{'vs raw pipe':>13}")
        for name, ts in times.items():
            med = statistics.median(ts)
            cpu = statistics.median(cpus[name])
            print(f"{name:<16}{med:>9.2f}{min(ts):>8.2f}{max(ts):>8.2f}"
                  f"{(med / base - 1) * 100:>+12.1f}%"
                  f"{cpu:>8.2f}{(cpu / base_cpu - 1) * 100:>+12.1f}%")
        print("Target (issue 3): stackform within +5% of the raw pipe (wall time).")
        print("\nmedian of the paired differences with the same round's raw pipe (fixed cost):")
        for name in names[1:]:
            wall = statistics.median(a - b for a, b in zip(times[name], times["raw pipe"],
                                                           strict=True))
            cpu = statistics.median(a - b for a, b in zip(cpus[name], cpus["raw pipe"],
                                                          strict=True))
            print(f"{name:<16}{wall:+9.3f} s wall {cpu:+9.3f} s CPU")
        print("Target (issue 20): stackform run at most +0.2 s over the raw pipe at 1,000 "
              "records, 10 rounds.")
        print(f"load average at the end: {'/'.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _resources(state: dict) -> list[dict]:
    res = state.get("resources", state)
    if isinstance(res, dict):
        return [{"address": k, **v} for k, v in res.items()]
    return list(res)


if __name__ == "__main__":
    main()
