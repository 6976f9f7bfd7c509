"""Rollback and migration over real backends (local here; the S3 CLI tests cover S3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackform.errors import StackformError, StateError
from stackform.runs.local import LocalRunStore
from stackform.runs.model import Bookmark
from stackform.state.local import LocalBackend
from stackform.state.migrate import environments_to_migrate, migrate
from stackform.state.model import GitInfo
from stackform.state.rollback import rollback
from stackform.testing.state_conformance import ENV, grow, make_state

GIT = GitInfo(commit="1" * 40, branch="main", dirty=False, user="bo")


def three_versions(backend: LocalBackend) -> list:
    first = make_state()
    backend.write(ENV, first, None)
    second = grow(first, "b")
    backend.write(ENV, second, first)
    third = grow(second, "c")
    backend.write(ENV, third, second)
    return [first, second, third]


def test_rollback_writes_the_old_version_as_a_new_serial(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state")
    first, _, third = three_versions(backend)
    done = rollback(backend, ENV, first.serial, GIT)
    now = backend.read(ENV)
    assert now is not None and now == done.written
    assert now.serial == third.serial + 1 and now.lineage == first.lineage
    assert set(now.resources) == set(first.resources)
    assert now.git.user == "bo"
    # ...and the rollback itself can be rolled back.
    rollback(backend, ENV, third.serial, GIT)
    assert set(backend.read(ENV).resources) == set(third.resources)  # type: ignore[union-attr]


def test_rollback_errors(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state")
    _, _, third = three_versions(backend)
    with pytest.raises(StateError, match="no kept version has serial 99") as err:
        rollback(backend, ENV, 99, GIT)
    assert "state history" in (err.value.hint or "")
    with pytest.raises(StateError, match="already the current state"):
        rollback(backend, ENV, third.serial, GIT)


def test_rollback_restores_a_deleted_environment(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state")
    _, second, _ = three_versions(backend)
    backend.delete(ENV)
    assert backend.read(ENV) is None
    rollback(backend, ENV, second.serial, GIT)
    restored = backend.read(ENV)
    assert restored is not None and set(restored.resources) == set(second.resources)


def test_rollback_to_another_lineage_needs_force(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state")
    old = make_state()
    backend.write(ENV, old, None)
    backend.delete(ENV)
    new = make_state(n=1)
    backend.write(ENV, new, None)
    newer = grow(new)
    backend.write(ENV, newer, new)
    with pytest.raises(StateError, match="another history"):
        rollback(backend, ENV, old.serial, GIT, lineage=old.lineage[:8])
    rollback(backend, ENV, old.serial, GIT, lineage=old.lineage[:8], force=True)
    now = backend.read(ENV)
    assert now is not None and now.lineage == old.lineage and now.serial > newer.serial


def test_migrate_between_local_folders_is_verified_and_idempotent(tmp_path: Path) -> None:
    source = LocalBackend(tmp_path / "a" / "state")
    states = three_versions(source)
    runs_a = LocalRunStore(tmp_path / "a" / "runs")
    runs_a.put_bookmark(ENV, Bookmark("daily.orders", {"offset": 7}, "t", "r1"))
    target = LocalBackend(tmp_path / "b" / "state")
    runs_b = LocalRunStore(tmp_path / "b" / "runs")
    [moved] = migrate(source, target, LocalBackend(tmp_path / "b" / "state"), [ENV],
                      runs_a, runs_b)
    assert (moved.serial, moved.lineage, moved.bookmarks) == (states[2].serial,
                                                             states[2].lineage, 1)
    assert target.read(ENV) == states[2]
    assert runs_b.get_bookmark(ENV, "daily.orders") == runs_a.get_bookmark(ENV, "daily.orders")
    [again] = migrate(source, target, target, [ENV])
    assert again.already_there
    other = make_state()
    target.delete(ENV)
    target.write(ENV, other, None)
    with pytest.raises(StateError, match="already holds another state"):
        migrate(source, target, target, [ENV])
    assert source.read(ENV) == states[2], "the source is never changed"


def test_migrate_refuses_the_same_place_and_nothing_to_copy(tmp_path: Path) -> None:
    source = LocalBackend(tmp_path / "a" / "state")
    target = LocalBackend(tmp_path / "b" / "state")
    with pytest.raises(StackformError, match="no environment has state to migrate"):
        environments_to_migrate(source, target, None)
    three_versions(source)
    assert environments_to_migrate(source, target, None) == [ENV]
    assert environments_to_migrate(source, target, ["other"]) == ["other"]
    with pytest.raises(StackformError, match="the target is where the state already is"):
        environments_to_migrate(source, LocalBackend(tmp_path / "a" / "state"), None)
