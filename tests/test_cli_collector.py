"""The console script runs a command with the collector tuned for a short-lived process: larger
collection thresholds, and the imports frozen out of every collection."""

from __future__ import annotations

import json
import subprocess
import sys

from stackform.cli import COLLECTOR_THRESHOLDS

DRIVER = """
import gc, json, sys
default = gc.get_threshold()
from stackform.cli import run
sys.argv = ["stackform", "--help"]
try:
    run()
except SystemExit:
    pass
print(json.dumps({"thresholds": gc.get_threshold(), "default": default,
                  "frozen": gc.get_freeze_count()}),
      file=sys.stderr)
"""


def test_a_command_runs_with_larger_thresholds_and_frozen_imports() -> None:
    proc = subprocess.run([sys.executable, "-c", DRIVER], capture_output=True, text=True,
                          check=True)
    seen = json.loads(proc.stderr.strip().splitlines()[-1])
    assert tuple(seen["thresholds"]) == COLLECTOR_THRESHOLDS
    # typer, pydantic and the CLI's modules: tens of thousands of objects, never traversed.
    assert seen["frozen"] > 10_000


def test_version_leaves_the_collector_alone() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER.replace('"--help"', '"--version"')],
        capture_output=True, text=True, check=True)
    seen = json.loads(proc.stderr.strip().splitlines()[-1])
    assert seen["thresholds"] == seen["default"]
    assert proc.stdout.startswith("stackform ")
