"""The local run-state store: the conformance suite, its file layout, and a writer killed mid-write.

Multi-process checks run the real store in real Python processes (no mocks).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from stackform.errors import StackformError
from stackform.runs.factory import run_store_for
from stackform.runs.local import LocalRunStore
from stackform.runs.store import RunStore
from stackform.testing.run_store_conformance import (
    ENV,
    KeptAside,
    RunStoreConformance,
    finished,
    mark,
    record,
)


class TestLocalRunStoreConformance(RunStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> RunStore:
        return LocalRunStore(tmp_path / "runs")

    @pytest.fixture
    def peer(self, tmp_path: Path) -> RunStore:
        return LocalRunStore(tmp_path / "runs")

    @pytest.fixture
    def kept_aside(self, tmp_path: Path) -> KeptAside:
        def kept(env: str, key: str) -> list[dict[str, Any]]:
            folder = tmp_path / "runs" / env / "bookmarks" / ".cleared"
            return [json.loads(p.read_text()) for p in sorted(folder.glob(f"{key}.*.json"))]

        return kept

    @pytest.fixture
    def child_store_code(self, tmp_path: Path) -> str:
        return ("from pathlib import Path\n"
                "from stackform.runs.local import LocalRunStore\n"
                f"store = LocalRunStore(Path({str(tmp_path / 'runs')!r}))\n")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def store(root: Path) -> LocalRunStore:
    return LocalRunStore(root)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_layout_and_modes(store: LocalRunStore, root: Path) -> None:
    store.put_bookmark(ENV, mark("daily.orders", 1))
    rec = record("run-1", "2024-05-01T06:00:00+00:00")
    with store.run_lock(ENV, "daily"):
        store.start_run(rec)
        lock = root / ENV / "locks" / "daily.lock"
        holder = json.loads(lock.read_text())
        assert holder["pid"] == os.getpid() and holder["operation"] == "run daily"
        store.finish_run(finished(rec))
    log = store.log_path(ENV, "run-1")
    assert log == root / ENV / "logs" / "run-1.log"
    bookmark = root / ENV / "bookmarks" / "daily.orders.json"
    run = root / ENV / "history" / "run-1.json"
    for path in (bookmark, run, log):
        assert mode(path) == 0o600, path
    assert json.loads(bookmark.read_text())["value"] == mark("daily.orders", 1).value
    assert json.loads(run.read_text())["status"] == "success"
    assert lock.read_text() == ""  # the holder record is cleared on release
    store.clear_bookmark(ENV, "daily.orders")
    [kept] = (root / ENV / "bookmarks" / ".cleared").iterdir()
    assert kept.name.startswith("daily.orders.") and kept.name.endswith(".json")
    assert not bookmark.exists()
    leftovers = [p.name for p in root.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_temp_files_and_strays_are_ignored(store: LocalRunStore, root: Path) -> None:
    store.put_bookmark(ENV, mark("daily.orders", 1))
    folder = root / ENV / "bookmarks"
    (folder / ".daily.orders.json.abc.tmp").write_text("{torn")
    (folder / "README.txt").write_text("notes")
    assert [b.key for b in store.bookmarks(ENV)] == ["daily.orders"]


def test_old_temp_files_are_swept(root: Path) -> None:
    LocalRunStore(root).put_bookmark(ENV, mark("daily.orders", 1))
    stale = root / ENV / "bookmarks" / ".daily.orders.json.dead.tmp"
    stale.write_text("{")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = root / ENV / "bookmarks" / ".daily.users.json.live.tmp"
    fresh.write_text("{")
    LocalRunStore(root).put_bookmark(ENV, mark("daily.orders", 2))
    assert not stale.exists() and fresh.exists()


def test_corrupt_bookmark_is_a_clear_error(store: LocalRunStore, root: Path) -> None:
    store.put_bookmark(ENV, mark("daily.orders", 1))
    (root / ENV / "bookmarks" / "daily.orders.json").write_text("{not json")
    with pytest.raises(StackformError) as err:
        store.get_bookmark(ENV, "daily.orders")
    assert "daily.orders.json" in str(err.value) and err.value.hint


def test_lock_held_by_this_process_is_not_reentrant(store: LocalRunStore) -> None:
    from stackform.errors import RunLockedError

    with store.run_lock(ENV, "daily"), pytest.raises(RunLockedError), \
            store.run_lock(ENV, "daily"):
        pass


def test_clear_operation_named_to_a_waiting_run(store: LocalRunStore) -> None:
    from stackform.errors import RunLockedError

    with store.run_lock(ENV, "daily", operation="bookmarks clear"), \
            pytest.raises(RunLockedError) as err, store.run_lock(ENV, "daily"):
        pass
    assert "bookmarks clear" in str(err.value)


# -- a writer killed with SIGKILL --------------------------------------------------------------

WRITER = textwrap.dedent('''
    import sys
    from pathlib import Path
    from stackform.runs.local import LocalRunStore
    from stackform.runs.model import Bookmark

    store = LocalRunStore(Path(sys.argv[1]))
    n = int(sys.argv[2])
    padding = "x" * 4000  # a few pages, so a torn write would show
    while True:
        n += 1
        store.put_bookmark("dev", Bookmark(
            key="daily.orders", updated_at="2024-05-01T06:00:00+00:00", run_id="r",
            value={"bookmarks": {"orders": {"n": n, "pad": padding}}}))
        if n % 50 == 0:
            print(n, flush=True)
''')


def test_killed_writer_leaves_a_valid_bookmark(store: LocalRunStore, root: Path) -> None:
    last = 0
    for round_ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(last)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.005 * round_)
        finally:
            proc.kill()  # SIGKILL
            proc.communicate(timeout=30)
        # Always a whole bookmark, the newest or one just before it.
        got = LocalRunStore(root).get_bookmark(ENV, "daily.orders")
        assert got is not None
        n = got.value["bookmarks"]["orders"]["n"]
        assert n >= int(line) and n > last
        assert got.value["bookmarks"]["orders"]["pad"] == "x" * 4000
        assert [b.key for b in LocalRunStore(root).bookmarks(ENV)] == ["daily.orders"]
        last = n


# -- factory -----------------------------------------------------------------------------------


def test_factory_default_root(tmp_path: Path) -> None:
    store = run_store_for({}, tmp_path, "shop")
    assert isinstance(store, LocalRunStore)
    assert store.root == tmp_path / ".stackform" / "runs" / "shop"
    assert isinstance(run_store_for({"backend": "local"}, tmp_path, "shop"), LocalRunStore)


def test_factory_beside_state_path(tmp_path: Path) -> None:
    store = run_store_for({"path": "var/state"}, tmp_path, "shop")
    assert isinstance(store, LocalRunStore)
    assert store.root == tmp_path / "var" / "runs" / "shop"
    absolute = run_store_for({"path": str(tmp_path / "elsewhere" / "st")}, tmp_path / "stack",
                             "shop")
    assert isinstance(absolute, LocalRunStore)
    assert absolute.root == tmp_path / "elsewhere" / "runs" / "shop"
    # State in the stack folder itself: run state goes inside it, not above the stack.
    here = run_store_for({"path": "."}, tmp_path, "shop")
    assert isinstance(here, LocalRunStore)
    assert here.root == tmp_path / "runs" / "shop"


def test_factory_errors_match_state_factory(tmp_path: Path) -> None:
    from stackform.state.factory import backend_for

    for settings in ({"backend": "s3", "bucket": "b"}, {"backend": "gcs"},
                     {"backend": "local", "bucket": "b"}, {"path": ""}):
        with pytest.raises(StackformError) as ours:
            run_store_for(settings, tmp_path, "shop")
        with pytest.raises(StackformError) as theirs:
            backend_for(settings, tmp_path, "shop")
        assert ours.value.reason == theirs.value.reason
    with pytest.raises(StackformError, match="needs a bucket"):
        run_store_for({"backend": "s3"}, tmp_path, "shop")
