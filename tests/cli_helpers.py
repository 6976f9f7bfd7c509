"""Helpers for end-to-end tests that run the installed ``stackform`` console script.

Every call starts a real process with a clean environment: no inherited ``STACKFORM_*``
variables, a plain-text keyring (``keyrings.alt``) under a private ``XDG_DATA_HOME``, and
``NO_COLOR`` so output is plain.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STACKFORM = str(Path(sys.executable).with_name("stackform"))
if not Path(STACKFORM).exists():  # pragma: no cover - a venv without the console script
    STACKFORM = shutil.which("stackform") or STACKFORM


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float = 0.0

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:  # shown by pytest when an assertion on a Result fails
        return (f"exit {self.code} after {self.seconds:.2f}s\n--- stdout ---\n{self.stdout}"
                f"--- stderr ---\n{self.stderr}")


FILES_STACK = """
[stack]
name = "demo"

[vars]
greeting = "hello"

[files.a]
path = "out/a.txt"
content = "${var.greeting} a\\n"

[files.b]
path = "out/b.txt"
content = "b\\n"
depends_on = ["files.a"]

[files.c]
path = "out/c.txt"
content = "c\\n"
"""
"""Three files (a, b depending on a, c) and a var: the stack most CLI tests start from."""


LOCATION = re.compile(r"stack\.toml:\d+:\d+: error:")
"""Where a diagnostic points in the stack file."""


def make_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A process environment for stackform: nothing stackform-specific inherited."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STACKFORM_", "PYTHON_KEYRING", "XDG_"))}
    env.update({
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(home / "xdg-data"),
        "XDG_CONFIG_HOME": str(home / "xdg-config"),
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "STACKFORM_DEVELOPER": "tester",
        "GIT_CONFIG_NOSYSTEM": "1",
    })
    env.pop("FORCE_COLOR", None)
    if extra:
        env.update(extra)
    return env


class Runner:
    """Runs ``stackform`` in one folder with one environment (both adjustable per call)."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env

    def __call__(self, *args: str, cwd: Path | None = None, input: str | None = None,
                 env: Mapping[str, str] | None = None, timeout: float = 60) -> Result:
        started = time.monotonic()
        proc = subprocess.run(
            [STACKFORM, *args], cwd=cwd or self.cwd, env={**self.env, **(env or {})},
            input=input if input is not None else "", capture_output=True, text=True,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        """Start ``stackform`` in the background (stdin closed, output captured)."""
        return subprocess.Popen(
            [STACKFORM, *args], cwd=self.cwd, env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> Result:
    started = time.monotonic()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"stackform did not finish in {timeout}s:\n{out}\n{err}") from None
    return Result(proc.returncode, out, err, time.monotonic() - started)


def kill9(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


def wait_for(predicate: Callable[[], Any], timeout: float = 20, what: str = "condition",
             proc: subprocess.Popen[str] | None = None) -> Any:
    """Poll ``predicate`` until truthy; fail (with the process's output) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"stackform exited ({proc.returncode}) before {what}:\n"
                                 f"{out}\n{err}")
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def write_stack(directory: Path, text: str, name: str = "stack.toml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def sleepers_stack(
    names: Iterable[str],
    seconds: float = 0.0,
    stack_name: str = "sleepy",
    marker_dir: str = "markers",
    extra: str = "",
) -> str:
    """A stack of independent ``sleepers`` resources."""
    blocks = [f'[stack]\nname = "{stack_name}"\n']
    for name in names:
        blocks.append(f'[sleepers.{name}]\nseconds = {seconds}\nvalue = "{name}"\n'
                      f'marker_dir = "{marker_dir}"\n')
    return "\n".join(blocks) + textwrap.dedent(extra)


def stack_name(directory: Path, file: str = "stack.toml") -> str:
    """The ``[stack] name`` of the stack file in ``directory``."""
    import tomllib

    return str(tomllib.loads((directory / file).read_text())["stack"]["name"])


def state_dir(directory: Path, stack: str | None = None) -> Path:
    """The local state folder of a stack (keys are scoped to the stack's name)."""
    return directory / ".stackform" / "state" / (stack or stack_name(directory))


def runs_dir(directory: Path, stack: str | None = None) -> Path:
    """The local run-state folder of a stack."""
    return directory / ".stackform" / "runs" / (stack or stack_name(directory))


def env_dir(directory: Path, env: str = "dev", stack: str | None = None) -> Path:
    """The private folder of a stack's environment (rendered config, catalogs)."""
    return directory / ".stackform" / "envs" / (stack or stack_name(directory)) / env


def state_path(directory: Path, env: str = "dev", stack: str | None = None) -> Path:
    return state_dir(directory, stack) / f"{env}.json"


def lock_path(directory: Path, env: str = "dev", stack: str | None = None) -> Path:
    return state_dir(directory, stack) / f"{env}.lock"


def read_state(directory: Path, env: str = "dev", stack: str | None = None) -> dict[str, Any]:
    return json.loads(state_path(directory, env, stack).read_text())


def lock_record(directory: Path, env: str = "dev") -> dict[str, Any] | None:
    """The holder record in the lock file, or None while there is none."""
    try:
        text = lock_path(directory, env).read_text()
    except FileNotFoundError:
        return None
    if not text.strip():
        return None
    try:
        data, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def plan_json(result: Result) -> dict[str, Any]:
    assert result.code in (0, 2), result
    return json.loads(result.stdout)


def actions(plan: Mapping[str, Any]) -> dict[str, list[str]]:
    """address -> Terraform-style actions of a ``plan --format json`` document."""
    return {c["address"]: c["change"]["actions"] for c in plan["resource_changes"]}


def assert_clean_error(result: Result, code: int = 1) -> None:
    """A user-facing failure: the expected exit code and no Python traceback anywhere."""
    assert result.code == code, result
    assert "Traceback" not in result.output, result
    assert "Error" in result.stderr or "error" in result.stderr, result
