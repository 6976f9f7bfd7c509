"""No-op ``stackform plan`` over generated stacks of ``files`` components.

For each size the stack is applied once (timed: the cold apply), then ``stackform plan`` is timed
when nothing changed (it still loads, validates, builds the graph, reads state and refreshes
every file). Each baseline is the least the same job takes without stackform, in the same run:
a Python script that parses the same stack file with the standard library and reads and hashes
every file (plan), or writes every file atomically (apply).

Every figure is the median of its runs: wall time, and CPU time (user + system, which other
jobs on the machine disturb much less), with the peak RSS of the plan; the load average is
printed before and after.

With ``--before-src DIR`` (a checkout of another commit: ``git archive REV | tar -x -C DIR``)
the same plan and cold apply also run with that code (``PYTHONPATH=DIR:DIR/providers``), on
the same stack, in the same run; the contenders' plans (and the baseline) take turns, round
after round, so that the machine's drifting speed hits them alike.

Usage: python benchmarks/plan_noop.py [--before-src DIR] [SIZES...]   (default 10 100 1000 10000)
Targets (issue 20): a no-op plan of 1,000 components at most 0.35 s and of 10,000 at most
1.5 s, under 150 MiB; a cold apply of 10,000 at most 5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

from _common import Measured, load_average, measure_command, median_of, stackform_command

BASELINE = """
import hashlib, pathlib, tomllib
stack = tomllib.loads(pathlib.Path("stack.toml").read_text())
for name, block in stack["files"].items():
    hashlib.sha256(pathlib.Path(block["path"]).read_bytes()).hexdigest()
"""

# The least a cold apply does without stackform: parse the file and write every file
# atomically (temp file, fsync, rename), into a scratch folder.
WRITE_BASELINE = """
import os, pathlib, tomllib
stack = tomllib.loads(pathlib.Path("stack.toml").read_text())
out = pathlib.Path("baseline-out"); out.mkdir(exist_ok=True)
for name, block in stack["files"].items():
    tmp = out / (name + ".tmp")
    with open(tmp, "w") as f:
        f.write(block["content"]); f.flush(); os.fsync(f.fileno())
    os.replace(tmp, out / name)
"""


def write_stack(directory: Path, size: int) -> None:
    lines = ['[stack]\nname = "bench"\n\n[vars]\nowner = "data-team"\n']
    for i in range(size):
        lines.append(
            f'[files.f{i:05d}]\npath = "out/f{i:05d}.txt"\n'
            f'content = "file {i} owned by ${{var.owner}}\\n"\nmode = "0644"\n'
        )
    (directory / "stack.toml").write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", type=int, default=[10, 100, 1000, 10000])
    ap.add_argument("--before-src", type=Path)
    args = ap.parse_args()
    sf = stackform_command()
    contenders: dict[str, dict[str, str]] = {"this": {}}
    if args.before_src:
        src = args.before_src.resolve()
        contenders["before"] = {"PYTHONPATH": f"{src}:{src / 'providers'}"}
    print(f"load average before: {load_average()}")
    print(f"{'components':>10} {'code':>6} | {'plan wall':>9} {'cpu':>6} {'base':>5} {'ratio':>6} "
          f"{'cpu ratio':>9} {'RSS MiB':>7} | {'apply wall':>10} {'cpu':>6} {'base':>6} "
          f"{'ratio':>6}   (ms)")
    for size in args.sizes:
        runs = 5 if size <= 1000 else 3
        with contextlib.ExitStack() as stack:
            dirs = {name: Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="sf-bench-"))) for name in contenders}
            applies: dict[str, Measured] = {}
            writes: dict[str, Measured] = {}
            for name, env in contenders.items():
                write_stack(dirs[name], size)
                [applies[name]] = measure_command(
                    [*sf, "apply", "--auto-approve", "--parallelism", "8"], 1, cwd=dirs[name],
                    extra_env=env)
                [writes[name]] = measure_command([sys.executable, "-c", WRITE_BASELINE], 1,
                                                 cwd=dirs[name])
            # The plans of every contender and the baseline take turns, round after round: this
            # machine's speed drifts over seconds, and a drift then hits them all alike.
            plans: dict[str, list[Measured]] = {name: [] for name in contenders}
            bases: dict[str, list[Measured]] = {name: [] for name in contenders}
            names = list(contenders)
            for r in range(runs):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    plans[name] += measure_command([*sf, "plan", "--detailed-exitcode"], 1,
                                                   cwd=dirs[name], extra_env=contenders[name])
                    bases[name] += measure_command([sys.executable, "-c", BASELINE], 1,
                                                   cwd=dirs[name])
        for name in contenders:
            plan, base, apply, write = plans[name], bases[name], applies[name], writes[name]
            pw, pc = median_of(plan, "wall") * 1000, median_of(plan, "cpu") * 1000
            bw, bc = median_of(base, "wall") * 1000, median_of(base, "cpu") * 1000
            aw, ac = apply.wall * 1000, apply.cpu * 1000
            ww = write.wall * 1000
            print(f"{size:>10} {name:>6} | {pw:>9.0f} {pc:>6.0f} {bw:>5.0f} {pw / bw:>5.1f}x "
                  f"{pc / max(bc, 1):>8.1f}x {max(r.rss_mib for r in plan):>7.0f} | "
                  f"{aw:>10.0f} {ac:>6.0f} {ww:>6.0f} {aw / ww:>5.2f}x", flush=True)
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
