"""Helpers for the tap's tests: the console scripts under test, a runner that parses their
Singer output, and JSONL writers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

PKG_DIR = Path(__file__).resolve().parents[1]


def _script(name: str, module: str) -> list[str] | None:
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    found = shutil.which(name)
    if found:
        return [found]
    return [sys.executable, "-m", module] if module else None


CMD = _script("tap-stackform-jsonl", "tap_stackform_jsonl")
assert CMD is not None
TARGET_CMD = _script("target-stackform-duckdb", "")


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TAP_DEBUG", None)
    # Lets `python -m tap_stackform_jsonl` work when the package is not installed.
    env["PYTHONPATH"] = os.pathsep.join([str(PKG_DIR / "src"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            lines = proc.stdout.splitlines()
            self.messages = [json.loads(line) for line in lines if line.strip()]
        except ValueError:  # --discover prints an indented catalog
            self.messages = []

    @property
    def records(self) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD"]

    @property
    def states(self) -> list[Any]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def schemas(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == "SCHEMA"]

    @property
    def metrics(self) -> list[dict[str, Any]]:
        prefix = "INFO METRIC: "
        return [
            json.loads(line[len(prefix) :])
            for line in self.stderr.splitlines()
            if line.startswith(prefix)
        ]


class Tap:
    """Runs the tap in ``cwd`` with a config written there."""

    def __init__(self, cwd: Path, **config: Any) -> None:
        self.cwd = cwd
        self.config = {"path": "data", "stream_name": "events", **config}

    def run(
        self,
        *args: str,
        state: Any = None,
        catalog: Any = None,
        check: bool = True,
        env: dict[str, str] | None = None,
        **config: Any,
    ) -> Run:
        cfg_path = self.cwd / "tap_config.json"
        cfg_path.write_text(json.dumps({**self.config, **config}))
        argv = [*CMD, "--config", str(cfg_path), *args]
        if state is not None:
            (self.cwd / "state.json").write_text(json.dumps(state))
            argv += ["--state", str(self.cwd / "state.json")]
        if catalog is not None:
            (self.cwd / "catalog.json").write_text(json.dumps(catalog))
            argv += ["--catalog", str(self.cwd / "catalog.json")]
        proc = subprocess.run(
            argv,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(**(env or {})),
        )
        run = Run(proc)
        if check:
            assert run.rc == 0, run.stderr
        return run


def write_lines(path: Path, rows: list[Any], mode: str = "w") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as fh:
        for r in rows:
            fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")


def rows(start: int, stop: int) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"n{i}"} for i in range(start, stop)]


def _catalog(tap: Tap) -> dict[str, Any]:
    return json.loads(tap.run("--discover").stdout)
