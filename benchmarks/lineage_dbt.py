"""What dbt lineage costs at apply and at plan, against dbt's own parse, for a project of N
models.

A generated dbt-duckdb project: one source of 10 columns (a loader's table) and N models in a
binary tree (model i reads model (i-1)//2, the first reads the source), each selecting its
parent's 10 columns with renames, casts and arithmetic. Measured in one run:

- ``dbt parse`` (a fresh target folder), what apply runs anyway;
- ``dbt compile`` after it (same target), what apply adds for lineage;
- sqlglot over the compiled manifest (``manifest_lineage``), in-process, sqlglot's import
  timed apart;
- the lineage part of a no-op plan: the recorded fragments taken back from their JSON and their
  upstream digests compared (``stackform.lineage.join``), in-process.

Times are wall and CPU (the dbt processes' CPU, this process's for sqlglot): on a shared
machine the CPU ratios are the steadier figures.

Usage: python benchmarks/lineage_dbt.py [--models 100] [--dbt PATH]
(without ``--dbt``: the dbt of a dbt-duckdb venv in ``STACKFORM_CACHE_DIR``.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "providers")]

COLUMNS = [f"c{i}" for i in range(10)]


def find_dbt() -> Path:
    cache = Path(os.environ.get("STACKFORM_CACHE_DIR", "")) / "venvs"
    for venv in sorted(cache.glob("*")):
        duckdb = list(venv.glob("lib/*/site-packages/dbt/adapters/duckdb"))
        if (venv / "bin" / "dbt").exists() and duckdb:
            return venv / "bin" / "dbt"
    sys.exit("no dbt-duckdb venv in STACKFORM_CACHE_DIR: apply the quickstart once, or --dbt")


def make_project(folder: Path, models: int) -> None:
    (folder / "models").mkdir(parents=True)
    (folder / "dbt_project.yml").write_text(
        "name: bench\nversion: '1.0.0'\nprofile: bench\nmodel-paths: ['models']\n")
    (folder / "profiles.yml").write_text(json.dumps({"bench": {"target": "dev", "outputs": {
        "dev": {"type": "duckdb", "path": str(folder / "bench.duckdb"), "schema": "analytics"}}}}))
    columns = "\n".join(f"          - name: {c}" for c in COLUMNS)
    (folder / "models" / "_sources.yml").write_text(
        "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n"
        f"      - name: orders\n        columns:\n{columns}\n")
    for i in range(models):
        parent = ("{{ source('raw', 'orders') }}" if i == 0
                  else f"{{{{ ref('m{(i - 1) // 2:03d}') }}}}")
        selects = ",\n    ".join(
            [f"{c}" if n % 3 == 0 else f"cast({c} as varchar) as {c}" if n % 3 == 1
             else f"{c} || '-' as {c}" for n, c in enumerate(COLUMNS)])
        (folder / "models" / f"m{i:03d}.sql").write_text(
            f"select\n    {selects}\nfrom {parent}\nwhere c0 is not null\n")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dbt(exe: Path, folder: Path, command: str, target: Path) -> tuple[float, float]:
    """Wall and CPU seconds (the machine is shared: CPU time is the steadier figure)."""
    started, cpu = time.perf_counter(), children_cpu()
    subprocess.run([str(exe), command, "--project-dir", str(folder), "--profiles-dir",
                    str(folder), "--target-path", str(target), "--log-path", str(folder / "logs")],
                   check=True, capture_output=True, env={**os.environ,
                                                         "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    return time.perf_counter() - started, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--dbt", type=Path)
    args = parser.parse_args()
    exe = args.dbt or find_dbt()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "project"
        make_project(folder, args.models)
        target = folder / "target"
        (parse, parse_cpu) = dbt(exe, folder, "parse", target)
        (compile_, compile_cpu) = dbt(exe, folder, "compile", target)
        manifest = json.loads((target / "manifest.json").read_text())

        started = time.perf_counter()
        import sqlglot.lineage
        import sqlglot.optimizer.qualify  # noqa: F401  (timed: what the lineage imports)
        imported = time.perf_counter() - started

        from stackform.lineage.join import Entry, join, recordable, upstream_digest
        from stackform.lineage.model import LineageFragment, LineageGraph, Node
        from stackform_dbt.sql_lineage import manifest_lineage

        table = Node("loaders.wh", "raw.orders", None, "table", "raw.orders")
        # Typed, as after a run confirmed them: sqlglot then infers every model column's type.
        cols = [Node("loaders.wh", "raw.orders", c, "table", "raw.orders",
                     data_type="BIGINT" if n % 2 else "VARCHAR") for n, c in enumerate(COLUMNS)]
        loader = LineageFragment((table, *cols), tuple((table.id, c.id) for c in cols))
        upstream = LineageGraph({"loaders.wh": loader})
        started, cpu = time.perf_counter(), time.process_time()
        fragment = manifest_lineage("transformers.dbt", manifest, upstream)
        sql, sql_cpu = time.perf_counter() - started, time.process_time() - cpu
        typed = sum(1 for n in fragment.nodes if n.data_type)
        edges = len(fragment.edges)

        class Asked:
            def lineage(self, *a: object) -> LineageFragment:
                raise AssertionError("a no-op plan asks no provider")

        entries = {
            "loaders.wh": Entry("loaders", None, {"lineage": recordable(
                loader, upstream_digest(LineageGraph({})))}),
            "transformers.dbt": Entry("transformers", None, {"lineage": recordable(
                fragment, upstream_digest(upstream))}, ("loaders.wh",)),
        }
        started = time.perf_counter()
        runs = 20
        for _ in range(runs):
            joined = join(None, entries, lambda _k: Asked(), as_recorded=False)  # type: ignore[arg-type]
            assert not joined.asked
        noop = (time.perf_counter() - started) / runs

    print(f"{args.models} models, {len(fragment.nodes)} lineage nodes ({typed} typed), {edges} "
          f"edges, complete: {fragment.complete}")
    print("                                    wall            CPU")
    print(f"dbt parse (apply, anyway)        {parse:7.2f} s          {parse_cpu:7.2f} s")
    print(f"dbt compile (apply, lineage)     {compile_:7.2f} s {compile_ / parse:5.2f}x  "
          f"{compile_cpu:7.2f} s {compile_cpu / parse_cpu:5.2f}x the parse")
    print(f"sqlglot import                   {imported:7.2f} s")
    print(f"sqlglot over the manifest        {sql:7.2f} s {sql / parse:5.2f}x  "
          f"{sql_cpu:7.2f} s {sql_cpu / parse_cpu:5.2f}x the parse")
    print(f"no-op plan: recorded lineage     {noop * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
