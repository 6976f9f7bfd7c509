"""What checking a saved plan against the stack and state costs ``stackform apply FILE``.

Apply builds a saved plan again (refresh, diff, notes) and compares it with the file
(``check_unedited`` in ``stackform/plan/saved.py``). Measured on ``examples/quickstart`` with
its dbt project, applied once, then a plan changing one var saved with ``plan -o``:

- **apply FILE**, as shipped, against the same command with the rebuild and comparison turned
  off (both through the same small driver that runs the CLI in-process, so they differ only by
  the check), runs interleaved; state and the changed file are restored before each run.
- **the check alone**, in fresh processes: the first rebuild and comparison a process makes
  (what an apply pays, imports of provider code it needs included).

Usage: python benchmarks/saved_plan_check.py [--runs 15]
(``STACKFORM_CACHE_DIR`` set: its plugin venvs are reused; otherwise a temp cache is filled.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import stackform_command
from apply_quickstart import copy_stack

DRIVER = """
import sys
if sys.argv[1] == "off":
    import stackform.plan.saved as saved
    saved.rebuild = lambda *a, **k: None
    saved.check_unedited = lambda *a: None
sys.argv = ["stackform", *sys.argv[2:]]
from stackform.cli import run
run()
"""

CHECK_ALONE = """
import time
from pathlib import Path
from stackform.plan.saved import check_fresh, check_unedited, load_plan, rebuild
from stackform.session import open_session
session = open_session(Path("."))
saved = load_plan(Path("change.sfplan"))
state = session.read_state()
check_fresh(saved, session.stack, state)
start = time.perf_counter()
check_unedited(saved, rebuild(saved, session.stack, state, session.registry,
                              session.dependencies))
print(time.perf_counter() - start)
"""


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return seconds, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    sf = stackform_command()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "STACKFORM_ENV")}
    env["NO_COLOR"] = "1"
    with tempfile.TemporaryDirectory(prefix="sf-bench-saved-") as tmp:
        root = Path(tmp)
        env.setdefault("STACKFORM_CACHE_DIR", str(root / "cache"))
        stack = copy_stack(root / "stack", with_dbt=True)
        run([*sf, "apply", "--auto-approve"], stack, env)
        toml = stack / "stack.toml"
        toml.write_text(toml.read_text().replace('owner = "data-team"', 'owner = "someone"'))
        run([*sf, "plan", "-o", "change.sfplan"], stack, env)
        kept = root / "kept"
        for folder in (".stackform/state", "out"):
            shutil.copytree(stack / folder, kept / folder)

        def restore() -> None:
            for folder in (".stackform/state", "out"):
                shutil.rmtree(stack / folder)
                shutil.copytree(kept / folder, stack / folder)

        times: dict[str, list[float]] = {"on": [], "off": []}
        for i in range(args.runs):
            for mode in (("on", "off") if i % 2 == 0 else ("off", "on")):
                restore()
                seconds, _ = run([sys.executable, "-c", DRIVER, mode, "apply", "change.sfplan"],
                                 stack, env)
                times[mode].append(seconds)
        restore()
        alone = [float(run([sys.executable, "-c", CHECK_ALONE], stack, env)[1])
                 for _ in range(args.runs)]

    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    print(f"apply FILE, with the check     {on * 1000:7.0f} ms (median of {args.runs})")
    print(f"apply FILE, check turned off   {off * 1000:7.0f} ms")
    print(f"difference                     {(on - off) * 1000:7.0f} ms")
    print(f"the check alone, first call    {statistics.median(alone) * 1000:7.1f} ms "
          f"(min {min(alone) * 1000:.1f}, max {max(alone) * 1000:.1f})")


if __name__ == "__main__":
    main()
