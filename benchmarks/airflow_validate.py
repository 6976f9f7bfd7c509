"""Validating generated DAGs with Airflow: ``stackform validate --deep`` against Airflow
importing the same DAG files by itself.

A stack with N scheduled pipelines (``files`` steps, nothing else to install) and an
``[orchestrators.airflow]`` block whose ``pip_url`` installs Airflow. Timed:

- ``validate --deep`` with the memo of already-checked files removed before each run (so Airflow
  really imports every DAG), for N = 1 and N = 20;
- the baseline: the same Airflow venv's Python importing the same files with a ``DagBag``
  (``dagbag_check.py``, what stackform runs), i.e. the work without stackform around it;
- ``validate --deep`` again with the memo in place (the files were checked with this install).

Usage: python benchmarks/airflow_validate.py [N...]   (default 1 20); needs the package index
(or uv's cache) for apache-airflow.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from _common import median_ms, stackform_command, time_command

AIRFLOW = "apache-airflow==3.3.2"
CHECK = (Path(__file__).resolve().parents[1] / "providers" / "stackform_airflow"
         / "dagbag_check.py")


def write_stack(d: Path, n: int) -> None:
    lines = ['[stack]\nname = "bench"\n\n[files.marker]\npath = "out/m.txt"\ncontent = "m"\n']
    for i in range(n):
        lines.append(f'[pipelines.p{i:02d}]\nsteps = ["marker"]\nschedule = "{i % 60} 6 * * *"\n')
    lines.append(f'[orchestrators.airflow]\ndags_path = "dags"\npip_url = "{AIRFLOW}"\n')
    (d / "stack.toml").write_text("\n".join(lines))


def airflow_python(cache: Path) -> Path:
    found = sorted(cache.rglob("bin/airflow"))
    if not found:
        raise SystemExit(f"no Airflow venv under {cache}")
    return found[0].with_name("python")


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1, 20]
    sf = stackform_command()
    with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
        cache = Path(tmp) / "cache"
        env = {"STACKFORM_CACHE_DIR": str(cache)}
        print(f"{'DAGs':>5}{'validate --deep ms':>20}{'DagBag alone ms':>17}{'ratio':>8}"
              f"{'memo hit ms':>13}")
        for n in sizes:
            d = Path(tmp) / f"stack-{n}"
            d.mkdir()
            write_stack(d, n)
            time_command([*sf, "apply", "--auto-approve"], 1, cwd=d, extra_env=env)
            python = airflow_python(cache)
            deep = []
            for _ in range(3):
                for memo in (d / ".stackform").rglob("validated.json"):
                    memo.unlink()
                deep += time_command([*sf, "validate", "--deep"], 1, cwd=d, extra_env=env)
            home = Path(tmp) / "airflow-home"
            home.mkdir(exist_ok=True)
            base_env = {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                        "AIRFLOW__CORE__DAGS_FOLDER": str(d / "dags")}
            base = time_command([str(python), str(CHECK), str(d / "dags"),
                                 str(Path(tmp) / "result.json")], 3, cwd=d,
                                extra_env={**base_env, **env})
            hit = time_command([*sf, "validate", "--deep"], 3, cwd=d, extra_env=env)
            print(f"{n:>5}{median_ms(deep):>20.0f}{median_ms(base):>17.0f}"
                  f"{median_ms(deep) / median_ms(base):>7.2f}x{median_ms(hit):>13.0f}")
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
