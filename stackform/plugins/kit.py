"""Helpers for providers whose resources are Python plugins: installing them into the shared
venv cache, their per-environment folder, private files, and running their commands.

Used by the Singer and dbt providers, and open to third-party providers: a plugin block names
what to install in ``pip_url`` (and optionally ``python``) and extra process environment in
``env``. Start plugin processes with :func:`run_command` or :func:`stackform.supervise.popen`,
inside a :func:`runtime_dir`, so they die with stackform and a killed run's leftovers are swept.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackform.errors import Interrupted, StackformError, os_reason
from stackform.fileio import Sync, atomic_write
from stackform.plugins.installs import ensure_venv
from stackform.plugins.lockfile import install_spec_for
from stackform.provider import Context
from stackform.resource import Resource
from stackform.supervise import popen, runtime_folder, runtime_root

if TYPE_CHECKING:
    from stackform.plugins.installs import Venv

# For scripts run in a loader's venv that need only ``duckdb.connect``: the package's engine
# module ``_duckdb`` (duckdb 1.4 and later) provides it and imports in ~0.02 s, where the whole
# package takes ~0.2 s, which a run pays on its path. Older releases have no such module.
DUCKDB_IMPORT = """\
try:
    import _duckdb as duckdb
except ImportError:
    import duckdb
"""


class PluginError(StackformError):
    """A plugin failed to install, start or run."""


def requirement_name(requirement: str) -> str:
    """The distribution a requirement installs: ``tap-jsonl==0.3.1`` -> ``tap-jsonl``."""
    from stackform.plugins.spec import canonical_pin, local_path

    if canonical_pin(requirement):
        return requirement.split("==", 1)[0]
    if not local_path(requirement):
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            return Requirement(requirement).name
        except InvalidRequirement:
            pass
    text = requirement.rstrip("/")
    if "#egg=" in text:
        return text.split("#egg=", 1)[1].split("&", 1)[0]
    return Path(text.split("@", 1)[0]).name.removesuffix(".git")


def executable_name(pip_url: str | list[str], executable: str | None) -> str:
    """The command a plugin block runs: ``executable`` when set; else a first-party connector's
    own command (``stackform:tap-jsonl`` -> ``tap-stackform-jsonl``), or the first
    requirement's name."""
    if executable:
        return executable
    from stackform.plugins.connectors import find_connector

    first = pip_url.split()[0] if isinstance(pip_url, str) else pip_url[0]
    connector = find_connector(first)
    return connector.executable if connector else requirement_name(first)


def install(ctx: Context, resource: Resource) -> Venv:
    """The plugin's venv from the shared cache (built once per requirement set)."""
    spec = install_spec_for(ctx.stack_dir, resource.address, resource.attributes)
    return ensure_venv(spec, log=ctx.log, cancel=ctx.cancel)


def plugin_dir(ctx: Context, address: str) -> Path:
    """This environment's folder for one plugin (rendered config, catalog)."""
    kind, _, name = address.partition(".")
    return ctx.work_dir / kind / name


def write_private(path: Path, data: Any, sync: Sync = "now") -> None:
    """Write JSON atomically (:func:`~stackform.fileio.atomic_write`, ``sync`` as there),
    readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True).encode(), 0o600, sync=sync)


@contextmanager
def runtime_dir(ctx: Context, prefix: str) -> Iterator[Path]:
    """A private folder (0700) in the environment's folder for files holding secrets and for
    recording the plugin processes started in it; removed afterwards, with any process still
    running from it. A killed stackform's folders are swept by the next command (see
    :mod:`stackform.supervise`)."""
    with runtime_folder(runtime_root(ctx.work_dir), prefix, ctx.log) as path:
        yield path


def plugin_environ(venv: Venv, resource: Resource) -> dict[str, str]:
    env = venv.environ()
    env.update({k: str(v) for k, v in (resource.attributes.get("env") or {}).items()})
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_command(args: Sequence[str], *, env: Mapping[str, str], timeout: float,
                cancel: threading.Event | None, what: str, cwd: Path | None = None,
                runtime: Path | None = None, log: Callable[[str], None] | None = None
                ) -> subprocess.CompletedProcess[str]:
    """Run a plugin command to completion (from the stack's folder, so relative paths in its
    config mean what they say in the stack file); a failure says what the plugin's stderr
    ends with (:func:`failure_summary`), and ``log`` gets all of it.

    The process is supervised (:func:`stackform.supervise.popen`) and recorded in ``runtime``, a
    :func:`runtime_dir`, when given."""
    try:
        proc = popen(args, runtime=runtime, env=env, cwd=cwd, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    except OSError as exc:
        raise PluginError(f"{what}: cannot start {args[0]}: {os_reason(exc)}") from exc
    waited = 0.0
    while True:
        try:
            out, err = proc.communicate(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            waited += 0.5
            if (cancel is not None and cancel.is_set()) or waited >= timeout:
                proc.kill()
                proc.communicate()
                if cancel is not None and cancel.is_set():
                    raise Interrupted(f"{what}: stopped") from None
                raise PluginError(f"{what}: no answer after {timeout:.0f} s") from None
    if proc.returncode != 0:
        if log is not None:
            for line in err.splitlines():
                log(f"[{what}] {line}")
        raise PluginError(f"{what} failed (exit {proc.returncode}): {failure_summary(err)}",
                          hint="that is the end of the plugin's own output; run with --debug "
                          "for all of it")
    return subprocess.CompletedProcess(list(args), proc.returncode, out, err)


def failure_summary(text: str, n: int = 3) -> str:
    """What a failed plugin's stderr comes down to: the exception line of a Python traceback
    (the last line of it that is not indented), else its last ``n`` lines. The rest belongs in
    the log, not in an error line."""
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "(no output)"
    starts = [i for i, line in enumerate(lines)
              if line.startswith("Traceback (most recent call last)")]
    if starts:
        raised = [line for line in lines[starts[-1] + 1:] if not line[0].isspace()]
        if raised:
            return raised[-1]
    return "\n".join(lines[-n:])


def local_plugin_paths(resource: Resource, stack_dir: Path) -> list[tuple[str, Path]]:
    """``("pip_url", folder)`` for each local folder or file the block's ``pip_url`` installs
    from (``../plugin``, ``-e ./x``, ``file://...``), absolute: what a plugin provider's
    :meth:`~stackform.provider.WatchesPaths.watched_paths` reports for a plugin developed in
    the stack's repository."""
    value = resource.attributes.get("pip_url")
    words = value if isinstance(value, list) else str(value or "").split()
    found: list[tuple[str, Path]] = []
    for word in words:
        word = str(word)
        if word.startswith("file://"):
            word = word[len("file://"):]
        if word.startswith(("-", "git+", "http")) or "==" in word:
            continue
        if word.startswith((".", "/", "~")) or (stack_dir / word).exists():
            found.append(("pip_url", (stack_dir / Path(word).expanduser()).resolve()))
    return found
