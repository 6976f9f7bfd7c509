"""No-op ``stackform plan`` over generated stacks of ``files`` components.

For each size the stack is applied once (timed: the cold apply), then ``stackform plan`` is timed
when nothing changed (it still loads, validates, builds the graph, reads state and refreshes
every file). Each baseline is the least the same job takes without stackform, in the same run:
a Python script that parses the same stack file with the standard library and reads and hashes
every file (plan), or writes every file atomically (apply).

Usage: python benchmarks/plan_noop.py [SIZES...]   (default 10 100 1000 5000)
Target (issue 2): under 1.5 s at 1,000 components.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import median_ms, stackform_command, time_command

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
    sizes = [int(a) for a in sys.argv[1:]] or [10, 100, 1000, 5000]
    sf = stackform_command()
    print(f"{'components':>10}{'plan ms':>10}{'baseline ms':>13}{'ratio':>8}{'ms/comp':>9}"
          f"{'cold apply ms':>15}{'baseline ms':>13}")
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
            d = Path(tmp)
            write_stack(d, size)
            apply = median_ms(time_command(
                [*sf, "apply", "--auto-approve", "--parallelism", "8"], 1, cwd=d))
            write = median_ms(time_command([sys.executable, "-c", WRITE_BASELINE], 1, cwd=d))
            runs = 5 if size <= 1000 else 3
            plan = median_ms(time_command([*sf, "plan", "--detailed-exitcode"], runs, cwd=d))
            base = median_ms(time_command([sys.executable, "-c", BASELINE], runs, cwd=d))
            print(f"{size:>10}{plan:>10.0f}{base:>13.0f}{plan / base:>7.1f}x"
                  f"{plan / size:>9.2f}{apply:>15.0f}{write:>13.0f}")


if __name__ == "__main__":
    main()
