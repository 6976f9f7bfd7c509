"""What checking blocks against their connector's recorded settings schema costs every resolve.

Every validate, plan, apply and run resolves the stack; each extractor and loader block is then
checked against the ``--about`` schema ``stackform add`` or an apply recorded for its install
(unknown keys, missing required ones, types, secret paths: docs/connectors.md). This resolves
a stack of N loader blocks, each with 8 settings, against a schema of 33 settings (the shape
meltanolabs-target-postgres declares), with the record present and, as the baseline, without
it (the block is then accepted unchecked, as before the check existed). Paired rounds
alternate the two, CPU time of this process (the machine is shared), best of the rounds.

Usage: python benchmarks/settings_check.py [BLOCKS...]   (default 100 1000)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from stackform.config.loader import load_stack_file
from stackform.config.resolve import resolve
from stackform.plugins.about import install_key, parse_about, record_about
from stackform.registry import Registry

ROUNDS = 5
PROPERTIES: dict[str, Any] = {
    f"setting_{i}": {"type": ["string", "null"], "description": f"Setting {i}."}
    for i in range(25)}
PROPERTIES.update({
    "host": {"type": ["string", "null"]}, "port": {"type": ["integer", "null"], "default": 5432},
    "user": {"type": ["string", "null"]}, "password": {"type": ["string", "null"]},
    "database": {"type": ["string", "null"]},
    "sqlalchemy_url": {"type": ["string", "null"], "secret": True},
    "batch_size_rows": {"type": ["integer", "null"]},
    "ssh_tunnel": {"type": ["object", "null"], "properties": {
        "private_key": {"type": ["string", "null"], "secret": True}}},
})
ABOUT = {"name": "target-demo", "version": "1.0.0", "settings": {"type": "object",
                                                                  "properties": PROPERTIES}}


def stack_text(blocks: int) -> str:
    out = ['[stack]\nname = "bench"\n']
    for i in range(blocks):
        out.append(f'[loaders.l{i}]\npip_url = "target-demo==1.0.0"\nexecutable = "target-demo"\n'
                   f'config = {{ host = "h{i}", port = 5432, user = "u", database = "d", '
                   'batch_size_rows = 1000, setting_1 = "a", setting_2 = "b", '
                   'sqlalchemy_url = "literal" }\n')
    return "\n".join(out)


def cpu_seconds(path: Path, registry: Registry, cache: str) -> float:
    os.environ["STACKFORM_CACHE_DIR"] = cache
    stack_file = load_stack_file(path, registry)
    started = time.process_time()
    resolve(stack_file, None, registry, strict_secrets=False)
    return time.process_time() - started


def main(sizes: list[int]) -> None:
    registry = Registry()
    print(f"{'blocks':>7} {'unchecked':>10} {'checked':>9} {'ratio':>6} {'per block':>10}")
    with tempfile.TemporaryDirectory(prefix="stackform-bench-") as tmp:
        with_record, without = Path(tmp) / "with", Path(tmp) / "without"
        without.mkdir()
        record_about(install_key("target-demo==1.0.0", None, "target-demo"),
                     parse_about(ABOUT), "target-demo", cache=with_record)
        for n in sizes:
            path = Path(tmp) / f"stack-{n}.toml"
            path.write_text(stack_text(n))
            base, checked = [], []
            for _ in range(ROUNDS):
                base.append(cpu_seconds(path, registry, str(without)))
                checked.append(cpu_seconds(path, registry, str(with_record)))
            b, c = min(base), min(checked)
            print(f"{n:>7} {b * 1000:>8.0f}ms {c * 1000:>7.0f}ms {c / b:>6.2f} "
                  f"{(c - b) / n * 1000:>8.3f}ms")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 1000])
