"""Isolated plugin installs with uv, in a content-addressed cache shared by every environment.

Every provider that installs Python packages (Singer taps and targets, dbt adapters, Airflow)
goes through :func:`ensure_venv`. One virtual environment exists per distinct
:class:`~.spec.InstallSpec` (Python version, requirement set, platform), under
``<cache>/venvs/<key>``, so a second environment, stack or developer on the same machine that
wants the same plugins installs nothing: the warm path is two ``stat`` calls and runs no uv.

A build happens in ``venvs/<key>.tmp-<random>`` (``uv venv --relocatable``, then ``uv pip
install``, or ``uv pip sync`` for a locked set), writes its marker file last and is renamed into
place, so a reader never sees a half-built venv and a failed or killed build leaves nothing
under the final name. An ``fcntl`` lock per key makes concurrent installs of the same key (two
threads, two processes, two developers' CI jobs on one runner) wait for one another: one builds,
the others reuse.

uv is a Python dependency of stackform; its binary is found with ``uv.find_uv_bin()``, imported
only when an install or a resolution actually runs. ``UV_*`` variables the user sets (index
URL, offline mode, cache dir...) reach uv unchanged.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackform.errors import Interrupted
from stackform.fileio import atomic_write
from stackform.plugins.spec import FORMAT, InstallSpec, platform_tag
from stackform.plugins.uvtool import (
    InstallError,
    cache_dir,
    explain_uv_failure,
    run_uv,
    trim_uv_message,
    uv_bin,
    uv_version,
)

MARKER = "stackform-venv.json"
"""Written last into a finished venv: its presence is what makes a venv complete."""
REQUIREMENTS_FILE = "stackform-requirements.txt"

Log = Callable[[str], None]


def _no_log(_message: str) -> None:
    return None


# -- the cache -----------------------------------------------------------------------------------


def venvs_dir(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / "venvs"


_BIN = "Scripts" if os.name == "nt" else "bin"
_NOT_EXECUTABLES = re.compile(r"^(activate.*|deactivate.*|python[\d.]*(\.exe)?|pydoc.*)$")


@dataclass(frozen=True)
class Venv:
    """A finished, cached virtual environment."""

    path: Path
    key: str
    _info: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def bin_dir(self) -> Path:
        return self.path / _BIN

    @property
    def python(self) -> Path:
        return self.bin_dir / ("python.exe" if os.name == "nt" else "python")

    @property
    def marker(self) -> Path:
        return self.path / MARKER

    def is_complete(self) -> bool:
        """The marker is there (written last) and the interpreter still resolves."""
        return self.marker.is_file() and self.python.exists()

    def info(self) -> dict[str, Any]:
        """What the marker records: spec, Python version, frozen package list, timings."""
        if self._info is not None:
            return self._info
        data = json.loads(self.marker.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}

    @property
    def frozen(self) -> list[str]:
        return [str(x) for x in self.info().get("frozen") or []]

    def executables(self) -> list[str]:
        """The commands this venv installed (interpreter and activate scripts left out)."""
        try:
            entries = sorted(self.bin_dir.iterdir())
        except FileNotFoundError:
            return []
        return [p.name for p in entries
                if p.is_file() and os.access(p, os.X_OK)
                and not _NOT_EXECUTABLES.match(p.name)]

    def executable(self, name: str) -> Path:
        """The path of a command in this venv, or a clear error naming those it does have."""
        candidate = self.bin_dir / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
        available = self.executables()
        spec = self.info().get("requirements") if self.marker.is_file() else None
        what = " ".join(spec) if isinstance(spec, list) else str(self.path)
        listed = ", ".join(available) if available else "none"
        hint = (f"set `executable` to one of: {listed}" if available
                else "the installed packages declare no console scripts; check pip_url")
        raise InstallError(
            f"the install of {what} has no executable '{name}' (it has: {listed})", hint=hint)

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """A process environment that runs this venv's commands first on ``PATH``."""
        env = dict(os.environ if base is None else base)
        env["VIRTUAL_ENV"] = str(self.path)
        env["PATH"] = os.pathsep.join(p for p in (str(self.bin_dir), env.get("PATH", "")) if p)
        env.pop("PYTHONHOME", None)
        return env


def find_venv(spec: InstallSpec, cache: Path | None = None) -> Venv | None:
    """The cached venv for ``spec`` if it is complete, without building anything."""
    venv = Venv(venvs_dir(cache) / spec.key, spec.key)
    return venv if venv.is_complete() else None


def ensure_venv(
    spec: InstallSpec,
    *,
    log: Log = _no_log,
    cancel: threading.Event | None = None,
    cache: Path | None = None,
) -> Venv:
    """The venv for ``spec``: reused from the cache when complete, else built once.

    Concurrent callers for the same key wait for one another (``fcntl`` lock) instead of both
    building. A failure raises :class:`InstallError` (uv's message in the reason) and leaves
    nothing behind; ``cancel`` stops a wait or a running uv and raises ``Interrupted``.
    """
    root = venvs_dir(cache)
    venv = Venv(root / spec.key, spec.key)
    if venv.is_complete():
        log(f"reusing cached install of {spec.describe()} ({venv.path})")
        return venv
    root.mkdir(parents=True, exist_ok=True)
    with _key_lock(root / f"{spec.key}.lock", spec, log, cancel):
        if venv.is_complete():
            log(f"reusing install of {spec.describe()} finished by another process")
            return venv
        for leftover in root.glob(f"{spec.key}.tmp-*"):
            # A build killed before its rename; we hold the key's lock, so nobody owns it.
            shutil.rmtree(leftover, ignore_errors=True)
        if venv.path.exists():
            # Named but incomplete (its interpreter vanished, say): rebuild it.
            shutil.rmtree(venv.path)
        tmp = root / f"{spec.key}.tmp-{secrets.token_hex(4)}"
        try:
            info = _build(spec, tmp, log, cancel)
            os.rename(tmp, venv.path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return Venv(venv.path, venv.key, info)


def _build(spec: InstallSpec, target: Path, log: Log, cancel: threading.Event | None
           ) -> dict[str, Any]:
    started = time.monotonic()
    log(f"installing {spec.describe()}")
    run_uv(["venv", "--relocatable", "--python", spec.python_version, str(target)],
        spec=spec, action="create a virtual environment for", cancel=cancel)
    python = Venv(target, spec.key).python
    # Bytecode is compiled once here, as pip does by default and uv does only when asked:
    # otherwise every plugin start where Python may not write it (PYTHONDONTWRITEBYTECODE, as
    # many container images set, or a read-only cache) compiles its modules again, ~1 s for
    # a Singer SDK tap on two cores, against ~1 s once at install (docs/performance.md).
    if spec.locked:
        req_file = target / REQUIREMENTS_FILE
        req_file.write_text("\n".join(spec.requirements) + "\n", encoding="utf-8")
        run_uv(["pip", "sync", "--compile-bytecode", "--python", str(python), str(req_file)],
            spec=spec, action="install", cancel=cancel)
    else:
        run_uv(["pip", "install", "--compile-bytecode", "--python", str(python),
                *spec.requirements], spec=spec, action="install", cancel=cancel)
    frozen = _freeze_python(python, spec, cancel)
    seconds = time.monotonic() - started
    info: dict[str, Any] = {
        "format": FORMAT,
        "key": spec.key,
        "python": spec.python_version,
        "python_full": _venv_version(target),
        "platform": platform_tag(),
        "requirements": list(spec.requirements),
        "local_digests": spec.local_digests,
        "locked": spec.locked,
        "frozen": frozen,
        "created_at": time.time(),
        "build_seconds": round(seconds, 3),
        "uv": uv_version(),
    }
    atomic_write(target / MARKER, (json.dumps(info, indent=2) + "\n").encode(), 0o644)
    log(f"installed {spec.describe()} in {seconds:.1f}s ({len(frozen)} packages)")
    return info


def _venv_version(path: Path) -> str | None:
    try:
        text = (path / "pyvenv.cfg").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if name.strip() in ("version_info", "version"):
            return value.strip()
    return None


@contextlib.contextmanager
def _key_lock(path: Path, spec: InstallSpec, log: Log, cancel: threading.Event | None
              ) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another install of {spec.describe()} to finish")
            while True:
                if cancel is not None and cancel.wait(0.05):
                    raise Interrupted(
                        f"stopped waiting for the install of {spec.describe()}") from None
                if cancel is None:
                    time.sleep(0.05)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    continue
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# -- resolution ----------------------------------------------------------------------------------


def compile_requirements(
    spec: InstallSpec,
    *,
    preferred: Sequence[str] = (),
    upgrade: bool = False,
    cancel: threading.Event | None = None,
) -> list[str]:
    """Resolve ``spec`` to a complete pinned list with ``uv pip compile``.

    The resolution is universal (markers instead of one platform's answer), so a lock written
    on a laptop holds on the Linux workers. ``preferred`` (the previous lock) keeps pins that
    still satisfy the requirements unless ``upgrade``: re-locking after adding a plugin does
    not move the others.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="stackform-compile-") as tmp:
        out = Path(tmp) / "requirements.txt"
        if preferred and not upgrade:
            out.write_text("\n".join(preferred) + "\n", encoding="utf-8")
        args = ["pip", "compile", "-", "--output-file", str(out), "--no-header",
                "--no-annotate", "--universal", "--python-version", spec.python_version]
        if upgrade:
            args.append("--upgrade")
        run_uv(args, spec=spec, action="resolve", cancel=cancel,
            stdin="\n".join(spec.requirements) + "\n")
        return parse_requirements(out.read_text(encoding="utf-8"))


def parse_requirements(text: str) -> list[str]:
    """Requirement lines of a ``requirements.txt`` (comments, blanks, options dropped)."""
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line and not line.startswith("-"):
            out.append(line)
    return out


def freeze(target: Venv | InstallSpec, cache: Path | None = None) -> list[str]:
    """The installed package list of a venv (for a spec: of its cached venv, built if need be)."""
    venv = target if isinstance(target, Venv) else ensure_venv(target, cache=cache)
    if venv.marker.is_file():
        return venv.frozen
    return _freeze_python(venv.python, None, None)


def _freeze_python(python: Path, spec: InstallSpec | None, cancel: threading.Event | None
                   ) -> list[str]:
    out = run_uv(["pip", "freeze", "--python", str(python)], spec=spec, action="list the installed "
              "packages", cancel=cancel)
    return parse_requirements(out)


def prune(keep_keys: Iterable[str], *, cache: Path | None = None, log: Log = _no_log
          ) -> list[str]:
    """Delete cached venvs whose key is not in ``keep_keys``; returns the removed keys.

    A venv being built or removed by someone else (its key lock held) is left alone.
    """
    root = venvs_dir(cache)
    keep = set(keep_keys)
    removed: list[str] = []
    if not root.is_dir():
        return removed
    for entry in sorted(root.iterdir()):
        if not entry.is_dir() or ".tmp-" in entry.name or entry.name in keep:
            continue
        fd = os.open(root / f"{entry.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log(f"skipping {entry.name}: in use")
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
            log(f"removed {entry}")
        finally:
            os.close(fd)
    return removed


__all__ = [
    "InstallError",
    "Venv",
    "cache_dir",
    "compile_requirements",
    "ensure_venv",
    "explain_uv_failure",
    "find_venv",
    "freeze",
    "parse_requirements",
    "prune",
    "trim_uv_message",
    "uv_bin",
]
