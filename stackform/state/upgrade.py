"""Move a stack's state from stackform 0.1's unscoped keys to keys scoped to the stack.

stackform 0.1 kept ``<folder>/<env>.json`` (``PREFIX/state/<env>.json`` in S3), so two stacks
sharing a location took each other's state. Keys now carry the stack name. A state still in the
old place is never adopted silently: :func:`legacy_state_of` finds it so that commands can say
so, and :func:`upgrade` moves this stack's environments with :func:`~stackform.state.migrate.
migrate` (lineage and serial intact, verified, bookmarks and run history copied), then removes
the old document (the backend keeps it in history). Documents of other stacks stay untouched.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

from stackform.errors import CorruptStateError, StateError
from stackform.runs.store import RunStore
from stackform.state.backend import StateBackend
from stackform.state.migrate import Migrated, migrate


def owned(legacy: StateBackend, env: str, stack: str) -> bool:
    """Whether the old layout holds a readable state of ``stack`` for ``env``."""
    try:
        state = legacy.read(env)
    except (CorruptStateError, StateError):
        return False  # unreadable or another environment's: not ours to claim
    return state is not None and state.stack == stack


def legacy_state_error(legacy: StateBackend, env: str) -> StateError:
    return StateError(
        f"the state of {env!r} is still where stackform 0.1 kept it ({legacy.describe(env)}), "
        "under a key that is not scoped to the stack",
        hint="run `stackform state upgrade` once to move it (lineage, serial, bookmarks and "
        "run history are kept); until then nothing reads or writes it")


def upgrade(legacy: StateBackend, scoped: StateBackend, verify_with: StateBackend,
            stack: str, legacy_runs: RunStore | None, scoped_runs: RunStore | None,
            work_root: Path, lock_timeout: float = 0.0,
            on_done: Callable[[Migrated], None] = lambda _m: None) -> list[Migrated]:
    """Move every environment of ``stack`` found in the old layout; returns what moved."""
    envs = [env for env in legacy.environments() if owned(legacy, env, stack)]
    moved = migrate(legacy, scoped, verify_with, envs, legacy_runs, scoped_runs,
                    lock_timeout, on_done)
    for env in envs:
        with legacy.lock(env, "state upgrade", lock_timeout):
            legacy.delete(env)
    _move_work_dirs(work_root, stack, envs)
    return moved


def _move_work_dirs(root: Path, stack: str, envs: list[str]) -> None:
    """``<root>/<env>`` -> ``<root>/<stack>/<env>`` (rendered files, catalogs), so the next
    plan finds them. Each folder is first renamed aside: ``<root>/<stack>`` may itself be an
    old environment's folder when a stack and an environment share a name."""
    staged: list[tuple[Path, str]] = []
    for env in envs:
        old = root / env
        if old.is_dir() and not (root / stack / env).exists():
            aside = root / f".upgrade-{uuid.uuid4().hex[:8]}"
            os.replace(old, aside)
            staged.append((aside, env))
    for aside, env in staged:
        target = root / stack / env
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(aside, target)
