"""Running uv for plugin installs, and turning its failures into errors a user can act on.

uv's own message is kept (trimmed of build tracebacks) and a hint is added when the cause is a
known one: a package that downloads files while it builds (dbt-core 1.12), a missing wheel, a
name not on the index, conflicting pins, a missing Python, an unreachable index.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Protocol

from stackform.errors import Interrupted, StackformError
from stackform.supervise import popen


class UvSpec(Protocol):
    """What a uv run needs to know of the install it is for: an
    :class:`~stackform.plugins.spec.InstallSpec`."""

    @property
    def python_version(self) -> str: ...

    @property
    def locked(self) -> bool: ...

    def describe(self) -> str: ...


class InstallError(StackformError):
    """A plugin could not be installed or resolved; the reason carries uv's own message."""


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``STACKFORM_CACHE_DIR``, else ``$XDG_CACHE_HOME/stackform``, else ``~/.cache/stackform``."""
    env = os.environ if environ is None else environ
    explicit = env.get("STACKFORM_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return Path(xdg).expanduser() / "stackform"
    return Path.home() / ".cache" / "stackform"


@cache
def uv_bin() -> str:
    """The uv binary shipped with the ``uv`` Python package (a dependency of stackform)."""
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise InstallError("uv is not installed, and stackform installs plugins with it",
                       hint="reinstall stackform (it depends on uv), or `pip install uv`")


@cache
def uv_version() -> str | None:
    try:
        proc = subprocess.run([uv_bin(), "--version"], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    parts = proc.stdout.split()
    return parts[1] if len(parts) > 1 else None


def run_uv(args: list[str], *, spec: UvSpec | None, action: str,
        cancel: threading.Event | None, stdin: str | None = None) -> str:
    """Run uv quietly, return its stdout; a failure raises InstallError with uv's message."""
    what = spec.describe() if spec else "plugins"
    if cancel is not None and cancel.is_set():
        raise Interrupted(f"stopped before the {action} of {what}")

    cmd = [uv_bin(), *args, "--quiet", "--color", "never"]
    # Supervised: a killed stackform leaves no uv writing into the cache behind it.
    proc = popen(
        cmd, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=_neutral_cwd(), env={**os.environ, "COLUMNS": "1000"},  # one line per message
    )
    first = True
    while True:
        try:
            out, err = proc.communicate(input=stdin if first else None, timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            first = False
            if cancel is not None and cancel.is_set():
                proc.terminate()
                try:
                    proc.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                raise Interrupted(f"stopped the {action} of {what}") from None
    if proc.returncode != 0:
        raise explain_uv_failure(action, spec, err)
    return out


def _neutral_cwd() -> str:
    """Run uv outside any project, so a pyproject.toml or uv.toml in the current folder does
    not change what a plugin install means (user-level uv config and ``UV_*`` still apply)."""
    cache = cache_dir()
    return str(cache) if cache.is_dir() else os.path.abspath(os.sep)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BUILD_FAILED = re.compile(r"Failed to (?:download and )?build `([^`]+)`")
_INCLUDED_BY = re.compile(
    r"`([^`]+)` \(v[^)]+\) was included because `([^`]+)` \(v(\d+)\.(\d+)[^)]*\) depends on")
_PULLED_IN_BY = {"dbt-core-experimental-parser": ("dbt-core", "1", "12")}
"""Packages known to download files while they build, and the release of the package that
brought them in: uv names that parent only when it resolves, not when it syncs a locked set."""
_DOWNLOAD_SIGNS = re.compile(
    r"failed to download|urlopen error|Name or service not known|Temporary failure in name "
    r"resolution|Could not resolve host|ConnectionError|ConnectTimeout|URLError|HTTPError",
    re.IGNORECASE)


def trim_uv_message(stderr: str, keep_tail: int = 3) -> list[str]:
    """uv's error output reduced to the lines that matter.

    uv's own ``error:``/``cause:``/``hint:`` lines are kept; a package build's captured output
    (``[stderr]``/``[stdout]`` blocks, usually a traceback) is cut to its last lines.
    """
    lines = [_ANSI.sub("", line).rstrip() for line in stderr.splitlines()]
    out: list[str] = []
    block: list[str] | None = None
    block_indent = 0

    def flush() -> None:
        if block:
            if len(block) > keep_tail:
                out.append(" " * block_indent + "...")
            out.extend(block[-keep_tail:])

    for line in lines:
        stripped = line.strip()
        if stripped in ("[stderr]", "[stdout]"):
            flush()
            block = []
            block_indent = len(line) - len(line.lstrip())
            out.append(line)
            continue
        if block is not None:
            indent = len(line) - len(line.lstrip())
            if not stripped:
                continue
            if indent >= block_indent and not stripped.startswith(("hint:", "error:")):
                block.append(line)
                continue
            flush()
            block = None
        if stripped:
            out.append(line)
    flush()
    if len(out) > 40:
        out = [*out[:20], "  ...", *out[-15:]]
    return out


def explain_uv_failure(action: str, spec: UvSpec | None, stderr: str) -> InstallError:
    """The error for a failed uv run: uv's own message, trimmed, and a hint when we know one."""
    lines = trim_uv_message(stderr)
    text = "\n".join(lines)
    what = spec.describe() if spec else "plugins"
    message = text or "uv failed without a message"
    if message.startswith("error: "):
        message = message[len("error: "):]
    reason = f"could not {action} {what}:\n{message}"
    return InstallError(reason, hint=_hint(stderr, spec))


def _hint(stderr: str, spec: UvSpec | None) -> str | None:
    stderr = " ".join(stderr.split())  # messages wrapped at the terminal width match too
    python = (spec.python_version if spec
              else f"{sys.version_info.major}.{sys.version_info.minor}")
    built = _BUILD_FAILED.search(stderr)
    if built:
        name, _, version = built.group(1).partition("==")
        package = f"{name} {version}".strip()
        parent = _INCLUDED_BY.search(stderr)
        found = parent.group(2, 3, 4) if parent else _PULLED_IN_BY.get(name.lower())
        pin = ""
        if found:
            dep, major, minor = found
            relock = " and run `stackform lock` again" if spec and spec.locked else ""
            pin = (f" It is pulled in by {dep} {major}.{minor}: add `{dep}<{major}.{minor}` "
                   f"to pip_url{relock} to get a release without it.")
        if _DOWNLOAD_SIGNS.search(stderr):
            return (f"{package} downloads files while it builds, and that download failed "
                    f"here (no network, or the host is blocked).{pin}")
        return (f"{package} has no wheel for Python {python} on this platform and building it "
                f"from source failed (its output is above)."
                + (pin or " Pin a version that ships a wheel, or install the build tools it "
                   "needs."))
    if "not found in the package registry" in stderr or "No solution found" in stderr:
        if "not found in the package registry" in stderr:
            return ("check the package name and version in pip_url against the package index "
                    "(a private index goes in UV_INDEX_URL or uv.toml)")
        return "the requirements conflict; loosen a pin, or split the plugins into blocks"
    if re.search(r"No interpreter found|No (?:download|Python) found", stderr):
        return (f"uv found no Python {python}: install one (`uv python install {python}`) or "
                f"set `python` on the block to a version this machine has")
    if _DOWNLOAD_SIGNS.search(stderr) or "Failed to fetch" in stderr:
        return ("uv could not reach the package index; check the network, UV_INDEX_URL, or "
                "UV_OFFLINE=1 to use only what uv has cached")
    return None
