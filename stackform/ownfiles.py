"""stackform's own files in a stack's folder, which no resource may write.

A block that writes local files (see
:meth:`~stackform.provider.BaseProvider.written_paths`) could otherwise overwrite the stack
file, ``stackform.lock``, or state, locks and run records under ``.stackform/``. Paths are
compared as the real paths they land on, so ``..``, absolute paths, ``~`` and symlinked folders
cannot get around the check. Core knows its own files; the provider knows which of its keys
name a file it writes; neither knows the other's specifics.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from stackform.diagnostics import Diagnostic, Location
from stackform.errors import StackformError
from stackform.provider import WritesLocalFiles, stack_path
from stackform.resource import KeyPath, format_path

OWN_FOLDER = ".stackform"


def own_file(target: Path, stack_file: Path, state: Mapping[str, Any]) -> str | None:
    """Which of stackform's own files ``target`` lands on, said for a message; ``None`` if
    none. ``state`` is the resolved ``[state]`` table (a local state folder elsewhere than
    ``.stackform/`` is stackform's too)."""
    from stackform.lockfile import LOCK_NAME

    real = _real(target)
    stack_dir = stack_file.parent
    if real == _real(stack_file):
        return f"the stack file {stack_file.name}"
    if real == _real(stack_dir / LOCK_NAME):
        return f"{LOCK_NAME}, the plugin lock file"
    for folder, what in _own_folders(stack_dir, state):
        if real == folder or folder in real.parents:
            return what
    return None


def written_path_diagnostics(
    provider: object,
    config: BaseModel,
    block: KeyPath,
    stack_file: Path,
    state: Mapping[str, Any],
    source: Callable[[KeyPath], KeyPath],
    locate: Callable[[KeyPath, bool], Location | None],
) -> list[Diagnostic]:
    """A located error for each file the block would write that is one of stackform's own.

    ``source`` maps a key path within the block to where its value is written (in the block,
    or in the environment override that set it); ``locate`` gives that place's location."""
    if not isinstance(provider, WritesLocalFiles):
        return []
    out = []
    for key, written in provider.written_paths(config).items():
        what = own_file(stack_path(stack_file.parent, written), stack_file, state)
        if what is not None:
            out.append(Diagnostic(
                f"{written!r} is {what}, which no block may write",
                path=format_path((*block, *key)), location=locate(source(key), False),
                hint=f"choose another path: stackform's own files are {stack_file.name}, "
                     f"stackform.lock, everything under {OWN_FOLDER}/ and a local [state] "
                     "folder"))
    return out


def _own_folders(stack_dir: Path, state: Mapping[str, Any]) -> Iterator[tuple[Path, str]]:
    yield (_real(stack_dir / OWN_FOLDER),
           f"inside {OWN_FOLDER}/ (stackform's state, locks, run records and plugin config)")
    if state.get("backend", "local") != "local" or not state.get("path"):
        return
    from stackform.runs.factory import run_store_for
    from stackform.state.factory import backend_for

    try:
        folders = [(getattr(backend_for(state, stack_dir), "root", None), "state"),
                   (getattr(run_store_for(state, stack_dir), "root", None), "run records")]
    except StackformError:
        return  # a bad [state] table is reported where it is resolved
    home = _real(stack_dir)
    for folder, what in folders:
        if isinstance(folder, Path):
            real = _real(folder)
            # State kept in the stack's folder itself (or above) does not make it all ours.
            if real != home and real not in home.parents:
                shown = os.path.relpath(folder, stack_dir)
                yield real, f"inside {shown}/, the folder of this stack's local {what}"


def _real(path: Path) -> Path:
    # realpath resolves what exists (symlinks, ..) and keeps the rest as written.
    return Path(os.path.realpath(path))
