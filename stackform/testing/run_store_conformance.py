"""The conformance suite every run-state store runs (local, S3, a third party's).

A store's tests subclass :class:`RunStoreConformance` and supply fixtures; every check below
then runs against that store::

    class TestLocalConformance(RunStoreConformance):
        @pytest.fixture
        def store(self, tmp_path: Path) -> RunStore:
            return LocalRunStore(tmp_path / "runs")
        ...

Fixtures a subclass must supply:

``store``
    A store over empty storage.
``peer``
    A second, independent instance over the *same* storage (another process would open it so).
``kept_aside``
    ``kept(env, key)``: the documents (parsed JSON) kept aside when ``key`` was cleared.
``child_store_code``
    Python source that, run in a fresh interpreter, binds ``store`` to a store over the same
    storage. The suite runs it in real child processes (a lock held elsewhere, a runner killed
    with SIGKILL).

The contract it checks:

- bookmarks round-trip every field; a put replaces; ``clear_bookmark`` removes one, says whether
  there was one and keeps the old value aside; ``bookmarks(prefix)`` lists by key, sorted;
- names that could escape the store (``..``, ``/``) are refused with a StackformError;
- the run lock is exclusive per (environment, pipeline), across threads and processes, names its
  holder in RunLockedError, waits up to ``timeout``, and is free again when its holder dies;
- run records: start writes ``running``, finish rewrites; ``runs`` lists newest first, filters by
  pipeline and limits; a ``running`` record whose run no longer holds the lock is
  ``interrupted``;
- ``log_path`` gives a private (0600) file in an existing folder.
"""

from __future__ import annotations

import os
import stat
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from stackform.errors import RunLockedError, StackformError
from stackform.runs.model import Bookmark, RunRecord, StepOutcome, bookmark_key
from stackform.runs.store import RunStore
from stackform.testing.child import ChildProcess

KeptAside = Callable[[str, str], list[dict[str, Any]]]

ENV = "dev"

CHILD = textwrap.dedent('''
    import sys
    from stackform.runs.model import RunRecord

    def say(*words):
        print(*words, flush=True)

    mode, env, pipeline = sys.argv[1], sys.argv[2], sys.argv[3]
    with store.run_lock(env, pipeline) as info:
        if mode == "run":
            store.start_run(RunRecord(run_id=sys.argv[4], pipeline=pipeline, env=env,
                                      started_at=sys.argv[5]))
        say("locked", info.id)
        sys.stdin.readline()
    say("released")
''')


class Child(ChildProcess):
    """A helper process holding a run lock (and optionally running) until released or killed."""

    def __init__(self, code: str, *args: str) -> None:
        super().__init__(code + "\n" + CHILD, *args)

    def release(self) -> None:
        self.send()
        assert self.line()[0] == "released"
        self.proc.communicate(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=30)


def mark(key: str, n: int, run_id: str | None = "r1") -> Bookmark:
    return Bookmark(key=key,
                    value={"bookmarks": {"orders": {"replication_key_value": n, "version": 1}},
                           "currently_syncing": None},
                    updated_at=f"2024-05-01T06:00:{n % 60:02d}+00:00", run_id=run_id)


def record(run_id: str, started_at: str, pipeline: str = "daily", env: str = ENV,
           **changes: Any) -> RunRecord:
    return replace(RunRecord(run_id=run_id, pipeline=pipeline, env=env, started_at=started_at),
                   **changes)


def finished(rec: RunRecord, status: Any = "success") -> RunRecord:
    return replace(
        rec, status=status, finished_at=rec.started_at, seconds=12.5,
        steps=(StepOutcome(name="orders-to-warehouse", status=status, seconds=12.0,
                           records_emitted=100, rows_landed=100, bookmark_moved=True,
                           details={"streams": ["orders"]}),),
        error=None if status == "success" else "target exited with 1",
    )


class RunStoreConformance:
    """Checks every :class:`~stackform.runs.store.RunStore` must pass."""

    # -- bookmarks ---------------------------------------------------------------------------

    def test_missing_bookmark_is_none(self, store: RunStore) -> None:
        assert store.get_bookmark(ENV, "daily.orders") is None
        assert store.bookmarks(ENV) == []
        assert ENV in store.describe(ENV)

    def test_bookmark_round_trip(self, store: RunStore, peer: RunStore) -> None:
        bookmark = mark("daily.orders", 7)
        store.put_bookmark(ENV, bookmark)
        for reader in (store, peer):
            assert reader.get_bookmark(ENV, "daily.orders") == bookmark
        none_run = mark("daily.users", 1, run_id=None)
        store.put_bookmark(ENV, none_run)
        assert peer.get_bookmark(ENV, "daily.users") == none_run

    def test_bookmark_overwrite(self, store: RunStore, peer: RunStore) -> None:
        for n in range(20):
            store.put_bookmark(ENV, mark("daily.orders", n, run_id=f"r{n}"))
        got = peer.get_bookmark(ENV, "daily.orders")
        assert got == mark("daily.orders", 19, run_id="r19")
        assert len(peer.bookmarks(ENV)) == 1

    def test_bookmarks_are_per_environment(self, store: RunStore) -> None:
        store.put_bookmark("dev", mark("daily.orders", 1))
        store.put_bookmark("prod", mark("daily.orders", 2))
        assert store.get_bookmark("dev", "daily.orders") == mark("daily.orders", 1)
        assert store.get_bookmark("prod", "daily.orders") == mark("daily.orders", 2)

    def test_clear_keeps_a_copy(self, store: RunStore, peer: RunStore,
                                kept_aside: KeptAside) -> None:
        store.put_bookmark(ENV, mark("daily.orders", 5))
        store.put_bookmark(ENV, mark("daily.users", 6))
        assert store.clear_bookmark(ENV, "daily.orders") is True
        assert peer.get_bookmark(ENV, "daily.orders") is None
        assert peer.get_bookmark(ENV, "daily.users") == mark("daily.users", 6)
        assert store.clear_bookmark(ENV, "daily.orders") is False
        kept = kept_aside(ENV, "daily.orders")
        assert len(kept) == 1
        assert kept[0]["value"] == mark("daily.orders", 5).value
        # Cleared twice after two puts: both old values are kept.
        store.put_bookmark(ENV, mark("daily.orders", 8))
        assert store.clear_bookmark(ENV, "daily.orders") is True
        values = sorted(k["value"]["bookmarks"]["orders"]["replication_key_value"]
                        for k in kept_aside(ENV, "daily.orders"))
        assert values == [5, 8]
        assert [b.key for b in store.bookmarks(ENV)] == ["daily.users"]

    def test_clear_missing_is_false(self, store: RunStore) -> None:
        assert store.clear_bookmark(ENV, "daily.orders") is False

    def test_listing_with_prefix(self, store: RunStore) -> None:
        for key in ("hourly.orders", "daily.users", "daily.orders", "dailyx.orders"):
            store.put_bookmark(ENV, mark(key, 1))
        store.put_bookmark("prod", mark("daily.other", 1))
        assert [b.key for b in store.bookmarks(ENV)] == [
            "daily.orders", "daily.users", "dailyx.orders", "hourly.orders"]
        assert [b.key for b in store.bookmarks(ENV, "daily.")] == ["daily.orders", "daily.users"]
        assert store.bookmarks(ENV, "nothing.") == []
        assert bookmark_key("daily", "orders") == "daily.orders"

    @pytest.mark.parametrize("key", ["../x", "a/b", "..", ".hidden", "", "daily./x", "a\\b"])
    def test_bad_keys_refused(self, store: RunStore, key: str) -> None:
        with pytest.raises(StackformError):
            store.put_bookmark(ENV, mark(key, 1))
        with pytest.raises(StackformError):
            store.get_bookmark(ENV, key)
        with pytest.raises(StackformError):
            store.clear_bookmark(ENV, key)

    @pytest.mark.parametrize("env", ["..", "../prod", "a/b", ".x", ""])
    def test_bad_environments_refused(self, store: RunStore, env: str) -> None:
        with pytest.raises(StackformError):
            store.put_bookmark(env, mark("daily.orders", 1))
        with pytest.raises(StackformError):
            store.runs(env)
        with pytest.raises(StackformError), store.run_lock(env, "daily"):
            pass

    @pytest.mark.parametrize("name", ["..", "../x", "a/b", ".x"])
    def test_bad_pipeline_and_run_ids_refused(self, store: RunStore, name: str) -> None:
        with pytest.raises(StackformError), store.run_lock(ENV, name):
            pass
        with pytest.raises(StackformError):
            store.start_run(record(name, "2024-05-01T06:00:00+00:00"))
        with pytest.raises(StackformError):
            store.log_path(ENV, name)

    # -- the run lock ------------------------------------------------------------------------

    def test_run_lock_exclusive_across_threads(self, store: RunStore, peer: RunStore) -> None:
        held = threading.Event()
        done = threading.Event()

        def hold() -> None:
            with store.run_lock(ENV, "daily"):
                held.set()
                done.wait(30)

        thread = threading.Thread(target=hold)
        thread.start()
        try:
            assert held.wait(30)
            for other in (store, peer):
                with pytest.raises(RunLockedError) as err, other.run_lock(ENV, "daily"):
                    pass
                message = str(err.value)
                assert "daily" in message and str(os.getpid()) in message
                assert "stackform runs" in message
            # Another pipeline, or the same pipeline in another environment, is not blocked.
            with store.run_lock(ENV, "hourly"), store.run_lock("prod", "daily"):
                pass
        finally:
            done.set()
            thread.join(30)
        with peer.run_lock(ENV, "daily") as info:
            assert info.pid == os.getpid()

    def test_run_lock_across_processes(self, store: RunStore, child_store_code: str) -> None:
        child = Child(child_store_code, "hold", ENV, "daily")
        try:
            assert child.line()[0] == "locked"
            with pytest.raises(RunLockedError) as err, store.run_lock(ENV, "daily"):
                pass
            assert f"pid {child.pid}" in str(err.value)
            child.release()
            with store.run_lock(ENV, "daily"):
                pass
        finally:
            child.stop()

    def test_run_lock_freed_when_holder_dies(self, store: RunStore,
                                             child_store_code: str) -> None:
        child = Child(child_store_code, "hold", ENV, "daily")
        try:
            assert child.line()[0] == "locked"
            child.kill9()
            with store.run_lock(ENV, "daily", timeout=5):
                pass
        finally:
            child.stop()

    def test_run_lock_timeout_waits(self, store: RunStore, peer: RunStore) -> None:
        held = threading.Event()

        def hold(seconds: float) -> None:
            with store.run_lock(ENV, "daily"):
                held.set()
                time.sleep(seconds)

        thread = threading.Thread(target=hold, args=(0.6,))
        thread.start()
        assert held.wait(30)
        started = time.monotonic()
        with peer.run_lock(ENV, "daily", timeout=20):
            waited = time.monotonic() - started
        thread.join(30)
        assert 0.3 < waited < 15

        held.clear()
        thread = threading.Thread(target=hold, args=(3.0,))
        thread.start()
        try:
            assert held.wait(30)
            started = time.monotonic()
            with pytest.raises(RunLockedError) as err, peer.run_lock(ENV, "daily", timeout=0.5):
                pass
            assert time.monotonic() - started >= 0.45
            assert "0.5s" in str(err.value)
        finally:
            thread.join(30)

    # -- run records -------------------------------------------------------------------------

    def test_no_runs(self, store: RunStore) -> None:
        assert store.runs(ENV) == []
        assert store.runs(ENV, "daily") == []

    def test_start_then_finish(self, store: RunStore, peer: RunStore) -> None:
        rec = record("run-1", "2024-05-01T06:00:00+00:00", user="ada", host="box")
        with store.run_lock(ENV, "daily"):
            store.start_run(rec)
            listed = peer.runs(ENV)
            assert listed == [rec]
            assert listed[0].status == "running"
            done = finished(rec)
            store.finish_run(done)
        assert peer.runs(ENV) == [done]
        got = peer.runs(ENV)[0]
        assert got.steps[0].records_emitted == 100 and got.bookmark_moved
        assert got.steps[0].details == {"streams": ["orders"]}

    def test_list_order_filter_limit(self, store: RunStore, peer: RunStore) -> None:
        recs = [
            finished(record("a", "2024-05-01T06:00:00+00:00")),
            finished(record("b", "2024-05-03T06:00:00+00:00", pipeline="hourly")),
            finished(record("c", "2024-05-02T06:00:00+00:00"), status="failed"),
            finished(record("d", "2024-05-04T06:00:00+00:00")),
            # Same instant in another notation: after "d" in time, not in text.
            finished(record("e", "2024-05-04T08:00:00+02:00")),
            finished(record("f", "2024-05-04T06:30:00+00:00")),
        ]
        for rec in recs:
            store.start_run(rec)  # a finished record stored at once, like an import
            store.finish_run(rec)
        ids = [r.run_id for r in peer.runs(ENV)]
        # Ordered by instant, not by text; d and e are the same instant (either order).
        assert ids[0] == "f" and set(ids[1:3]) == {"d", "e"} and ids[3:] == ["b", "c", "a"]
        assert [r.run_id for r in peer.runs(ENV, limit=100)] == ids
        assert [r.run_id for r in peer.runs(ENV, "daily")] == [i for i in ids if i != "b"]
        assert [r.run_id for r in peer.runs(ENV, "daily", limit=2)] == [
            i for i in ids if i != "b"][:2]
        assert [r.run_id for r in peer.runs(ENV, "hourly")] == ["b"]
        assert peer.runs(ENV, "weekly") == []
        assert peer.runs("prod") == []

    def test_same_second_runs_in_start_order(self, store: RunStore) -> None:
        for run_id in ("x1", "x2", "x3"):
            rec = record(run_id, "2024-05-01T06:00:00+00:00")
            with store.run_lock(ENV, "daily"):
                store.start_run(rec)
                store.finish_run(finished(rec))
        assert [r.run_id for r in store.runs(ENV)] == ["x3", "x2", "x1"]

    def test_running_without_lock_is_interrupted(self, store: RunStore,
                                                 child_store_code: str) -> None:
        child = Child(child_store_code, "run", ENV, "daily", "run-dead",
                      "2024-05-01T06:00:00+00:00")
        try:
            assert child.line()[0] == "locked"
            [live] = store.runs(ENV)
            assert live.status == "running"
            child.kill9()
            [dead] = store.runs(ENV)
            assert dead.run_id == "run-dead" and dead.status == "interrupted"
            assert dead.error
            # A later run holds the lock now: the dead one stays interrupted.
            later = record("run-next", "2024-05-02T06:00:00+00:00")
            with store.run_lock(ENV, "daily"):
                store.start_run(later)
                statuses = {r.run_id: r.status for r in store.runs(ENV)}
                assert statuses == {"run-next": "running", "run-dead": "interrupted"}
                store.finish_run(finished(later))
            statuses = {r.run_id: r.status for r in store.runs(ENV)}
            assert statuses == {"run-next": "success", "run-dead": "interrupted"}
        finally:
            child.stop()

    # -- forgetting an environment ----------------------------------------------------------

    def test_forget_removes_one_environment(self, store: RunStore, peer: RunStore) -> None:
        assert store.forget(ENV) is None
        store.put_bookmark(ENV, mark("daily.orders", 1))
        store.put_bookmark("prod", mark("daily.orders", 2))
        rec = record("run-1", "2024-05-01T06:00:00+00:00")
        store.start_run(rec)
        store.finish_run(finished(rec))
        with open(store.log_path(ENV, "run-1"), "a") as log:
            log.write("tap: hello\n")
        assert store.forget(ENV)
        assert peer.bookmarks(ENV) == [] and peer.runs(ENV) == []
        # its logs go with it, local copies included
        assert store.log_path(ENV, "run-1").read_text() == ""
        assert [b.value for b in peer.bookmarks("prod")] == [mark("daily.orders", 2).value]

    # -- logs --------------------------------------------------------------------------------

    def test_log_path(self, store: RunStore) -> None:
        path = store.log_path(ENV, "run-1")
        assert path.parent.is_dir()
        assert path.exists()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with open(path, "a") as f:
            f.write("tap: hello\n")
        again = store.log_path(ENV, "run-1")
        assert again == path and path.read_text() == "tap: hello\n"
        assert store.log_path(ENV, "run-2") != path
        assert store.log_path("prod", "run-1") != path
