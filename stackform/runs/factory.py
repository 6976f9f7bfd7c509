"""Pick the run-state store for a stack's ``[state]`` table.

Run state goes where infrastructure state goes, under its own keys and scoped to the stack like
state (see :mod:`stackform.state.factory`): for the local backend a ``runs`` folder beside the
state folder (``<stack dir>/.stackform/runs/<stack>`` by default), for S3
``PREFIX/<stack>/runs/``. The ``[state]`` table is validated by the state factory, so both give
the same errors. Kept free of heavy imports, like the state factory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stackform.runs.local import LocalRunStore
from stackform.runs.store import RunStore
from stackform.state.factory import backend_for, legacy_backend_for, local_state_folder

RUNS_FOLDER = "runs"


def run_store_for(settings: Mapping[str, Any], stack_dir: Path, stack: str | None) -> RunStore:
    """The run-state store of the stack named ``stack`` for ``settings`` (the ``[state]``
    table), relative to ``stack_dir``; ``stack=None`` gives stackform 0.1's unscoped layout."""
    # Validates the table and raises the state factory's own errors (an unknown backend, keys
    # a backend does not take, a missing bucket).
    backend = (backend_for(settings, stack_dir, stack) if stack
               else legacy_backend_for(settings, stack_dir))
    folder = local_state_folder(settings, stack_dir)
    if folder is not None:
        root = _local_root(folder, stack_dir)
        return LocalRunStore(root / stack if stack else root)
    # The S3 store, with its client, only for a stack that uses it.
    from stackform.runs.s3 import S3RunStore
    from stackform.state.s3 import S3Backend

    if isinstance(backend, S3Backend):
        # Logs are staged on the machine that runs before they are uploaded.
        cache = stack_dir / ".stackform" / "s3-cache" / RUNS_FOLDER
        return S3RunStore(backend.settings, cache / stack if stack else cache, backend.objects)
    raise AssertionError(f"no run-state store for state backend {backend.name!r}")


def _local_root(state_root: Path, stack_dir: Path) -> Path:
    """A ``runs`` folder beside the state folder; inside it when "beside" would leave the
    stack's folder (state kept in the stack folder itself, or above it)."""
    if state_root.name in ("", ".", "..") or _normal(state_root) in (
            _normal(stack_dir), *(_normal(p) for p in Path(_normal(stack_dir)).parents)):
        return state_root / RUNS_FOLDER
    return state_root.parent / RUNS_FOLDER


def _normal(path: Path) -> str:
    return os.path.normpath(os.path.abspath(path))
