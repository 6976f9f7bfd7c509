"""stackform's own files in a stack's folder, which no resource may write.

A block that writes local files (see
:meth:`~stackform.provider.WritesLocalFiles.written_paths`) could otherwise overwrite the stack
file, ``stackform.lock``, or state, locks and run records under ``.stackform/``. Paths are
compared as the real paths they land on, so ``..``, absolute paths, ``~`` and symlinked folders
cannot get around the check. Core knows its own files; the provider knows which of its keys
name a file it writes; neither knows the other's specifics.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackform.diagnostics import Diagnostic, Location
from stackform.errors import StackformError
from stackform.provider import stack_path
from stackform.resource import KeyPath, format_path
from stackform.runs.factory import run_store_for
from stackform.state.factory import legacy_backend_for

if TYPE_CHECKING:
    from pydantic import BaseModel

OWN_FOLDER = ".stackform"
LOCK_NAME = "stackform.lock"
"""The plugin lock file beside the stack file (:mod:`stackform.plugins.lockfile`)."""


class OwnFiles:
    """stackform's own files for one stack and ``[state]`` table, found once (lazily: a stack
    whose blocks write no local file never asks)."""

    def __init__(self, stack_file: Path, state: Mapping[str, Any]) -> None:
        self.stack_file = stack_file
        self.state = state
        self._files: dict[str, str] | None = None
        self._folders: list[tuple[str, str]] = []
        self._real_dirs: dict[str, str] = {}

    def what(self, target: str) -> str | None:
        """Which of stackform's own files ``target`` (absolute) lands on, said for a message;
        ``None`` if none."""
        if self._files is None:
            stack_dir = self.stack_file.parent
            self._files = {}
            self._folders = []
            for path, what in ((self.stack_file, f"the stack file {self.stack_file.name}"),
                               (stack_dir / LOCK_NAME, f"{LOCK_NAME}, the plugin lock file")):
                # The file a symlink leads to, and the symlink itself (a write replaces it).
                self._files.update({_real(path): what, self._real(str(path)): what})
            for own, what in _own_folders(stack_dir, self.state):
                self._folders += [(_real(own), what), (self._real(str(own)), what)]
        real = self._real(target)
        if real in self._files:
            return self._files[real]
        for folder, what in self._folders:
            if real == folder or real.startswith(folder + os.sep):
                return what
        return None

    def _real(self, target: str) -> str:
        # Many blocks write into the same few folders: resolve each folder once. The file
        # itself is not followed: a write replaces a symlink rather than writing through it.
        folder, name = os.path.split(target)
        if name in ("", ".", ".."):
            return _real(target)
        real = self._real_dirs.get(folder)
        if real is None:
            real = self._real_dirs[folder] = _real(folder)
        return os.path.join(real, name)

    def diagnostics(
        self,
        provider: object,
        config: BaseModel,
        block: KeyPath,
        source: Callable[[KeyPath], KeyPath],
        locate: Callable[[KeyPath, bool], Location | None],
    ) -> list[Diagnostic]:
        """A located error for each file the block would write that is one of stackform's
        own.

        ``source`` maps a key path within the block to where its value is written (in the
        block, or in the environment override that set it); ``locate`` gives that place's
        location."""
        # isinstance(provider, WritesLocalFiles) by getattr: the same answer (BaseProvider has
        # no written_paths, and the registry checked its signature at load) without a runtime
        # protocol check per block, which costs more than the rest.
        written_paths = getattr(provider, "written_paths", None)
        if written_paths is None:
            return []
        out = []
        paths: Mapping[KeyPath, str] = written_paths(config)
        for key, written in paths.items():
            what = self.what(stack_path(self.stack_file.parent, written))
            if what is not None:
                out.append(Diagnostic(
                    f"{written!r} is {what}, which no block may write",
                    path=format_path((*block, *key)), location=locate(source(key), False),
                    hint=f"choose another path: stackform's own files are "
                         f"{self.stack_file.name}, stackform.lock, everything under "
                         f"{OWN_FOLDER}/ and a local [state] folder"))
        return out


def _own_folders(stack_dir: Path, state: Mapping[str, Any]) -> Iterator[tuple[Path, str]]:
    yield (stack_dir / OWN_FOLDER,
           f"inside {OWN_FOLDER}/ (stackform's state, locks, run records and plugin config)")
    if state.get("backend", "local") != "local" or not state.get("path"):
        return
    try:
        # The whole folders, not only this stack's part: every stack's state there is ours.
        folders = [(getattr(legacy_backend_for(state, stack_dir), "root", None), "state"),
                   (getattr(run_store_for(state, stack_dir, None), "root", None),
                    "run records")]
    except StackformError:
        return  # a bad [state] table is reported where it is resolved
    home = _real(stack_dir)
    for folder, what in folders:
        if isinstance(folder, Path):
            real = _real(folder)
            # State kept in the stack's folder itself (or above) does not make it all ours.
            if real != home and not home.startswith(real + os.sep):
                shown = os.path.relpath(folder, stack_dir)
                yield folder, f"inside {shown}/, the folder of this stack's local {what}"


def _real(path: str | Path) -> str:
    # realpath resolves what exists (symlinks, ..) and keeps the rest as written.
    return os.path.realpath(path)
