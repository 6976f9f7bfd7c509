"""Move an environment's state and run state from one backend to another, intact and verified.

Each environment is copied under the lock of both backends: its state with lineage and serial
unchanged (so saved plans stay valid), then its bookmarks and run records. The copy is read back
through a fresh instance of the target and compared. A target that already holds another state
for the environment is refused; the very same state there (a re-run) is only verified.
The source is left as it was: nothing is deleted, it can be pointed back to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stackform.errors import StackformError, StateError
from stackform.runs.store import RunStore
from stackform.state.backend import StateBackend


@dataclass(frozen=True)
class Migrated:
    env: str
    serial: int
    lineage: str
    resources: int
    bookmarks: int
    runs: int
    already_there: bool = False


def environments_to_migrate(source: StateBackend, target: StateBackend,
                            envs: list[str] | None) -> list[str]:
    """The environments ``state migrate`` copies (``envs``, default every one with state);
    refused when the target is where the state already is, or when there is nothing to
    copy."""
    if target.describe("x") == source.describe("x"):
        raise StackformError("the target is where the state already is",
                             hint="name another bucket, prefix or path")
    names = envs or source.environments()
    if not names:
        raise StackformError("no environment has state to migrate",
                             hint="`stackform env list` shows the environments with state")
    return names


def migrate(source: StateBackend, target: StateBackend, verify_with: StateBackend,
            envs: list[str], source_runs: RunStore | None = None,
            target_runs: RunStore | None = None, lock_timeout: float = 0.0,
            on_done: Callable[[Migrated], None] = lambda _m: None) -> list[Migrated]:
    """Copy ``envs``; ``verify_with`` is a second instance over the target's storage."""
    done = []
    for env in envs:
        with source.lock(env, "state migrate", lock_timeout), \
                target.lock(env, "state migrate", lock_timeout):
            state = source.read(env)
            if state is None:
                raise StateError(f"environment {env!r} has no state in {source.describe(env)}")
            there = target.read(env)
            already = False
            if there is not None:
                if there.to_json() != state.to_json():
                    raise StateError(
                        f"{target.describe(env)} already holds another state for {env!r} "
                        f"(lineage {there.lineage}, serial {there.serial}; the source is "
                        f"lineage {state.lineage}, serial {state.serial})",
                        hint="migrate into an empty prefix, or remove that state first")
                already = True
            else:
                target.write(env, state, None)
            check = verify_with.read(env)
            if check is None or check.to_json() != state.to_json():
                raise StateError(f"the copy of {env!r} in {target.describe(env)} does not "
                                 "read back as the source state",
                                 hint="the source is untouched; check the target storage and "
                                 "run the migration again")
            bookmarks = runs = 0
            if source_runs is not None and target_runs is not None:
                bookmarks, runs = _copy_runs(env, source_runs, target_runs)
        migrated = Migrated(env, state.serial, state.lineage, len(state.resources), bookmarks,
                            runs, already)
        on_done(migrated)
        done.append(migrated)
    return done


def _copy_runs(env: str, source: RunStore, target: RunStore) -> tuple[int, int]:
    bookmarks = source.bookmarks(env)
    for bookmark in bookmarks:
        target.put_bookmark(env, bookmark)
    copied_marks = {b.key: b for b in target.bookmarks(env)}
    for bookmark in bookmarks:
        if copied_marks.get(bookmark.key) != bookmark:
            raise StateError(f"bookmark {bookmark.key} of {env!r} did not copy intact",
                             hint="the source is untouched; run the migration again")
    records = source.runs(env, limit=1_000_000)
    have = {r.run_id for r in target.runs(env, limit=1_000_000)}
    copied = 0
    for record in reversed(records):  # oldest first, so the target orders them the same
        if record.run_id in have:
            continue
        target.start_run(record)
        target.finish_run(record)
        copied += 1
    return len(bookmarks), copied
